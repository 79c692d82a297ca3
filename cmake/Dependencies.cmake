# Third-party dependencies: Debian packages found by CMake, and ONNX Runtime
# installed by scripts/setup.sh into third_party/onnxruntime.
# Only what the enabled parts need is searched for (AKIDB_BUILD_* options).
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
if(AKIDB_BUILD_CLI)
  find_package(CLI11 REQUIRED)
endif()
if(AKIDB_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

find_path(UTF8PROC_INCLUDE_DIR utf8proc.h REQUIRED)
find_library(UTF8PROC_LIBRARY utf8proc REQUIRED)
add_library(utf8proc::utf8proc UNKNOWN IMPORTED)
set_target_properties(utf8proc::utf8proc PROPERTIES
  IMPORTED_LOCATION "${UTF8PROC_LIBRARY}" INTERFACE_INCLUDE_DIRECTORIES "${UTF8PROC_INCLUDE_DIR}")

if(AKIDB_BUILD_SERVER)
  find_package(simdjson REQUIRED)
  # The HTTP transport: Boost.Beast + Boost.Asio (header-only, Debian libboost-dev).
  find_package(Boost 1.74 REQUIRED)
endif()

set(ORT_ROOT "${CMAKE_SOURCE_DIR}/third_party/onnxruntime" CACHE PATH "ONNX Runtime install (scripts/setup.sh)")
find_path(ORT_INCLUDE_DIR onnxruntime_c_api.h PATHS "${ORT_ROOT}/include" NO_DEFAULT_PATH REQUIRED)
find_library(ORT_LIBRARY onnxruntime PATHS "${ORT_ROOT}/lib" NO_DEFAULT_PATH REQUIRED)
add_library(onnxruntime::onnxruntime SHARED IMPORTED)
set_target_properties(onnxruntime::onnxruntime PROPERTIES
  IMPORTED_LOCATION "${ORT_LIBRARY}" IMPORTED_SONAME "libonnxruntime.so.1"
  INTERFACE_INCLUDE_DIRECTORIES "${ORT_INCLUDE_DIR}")
# Build-tree executables find libonnxruntime.so.1 in third_party without
# LD_LIBRARY_PATH (installed ones: CMAKE_INSTALL_RPATH, CMakeLists.txt).
set(CMAKE_BUILD_RPATH "${ORT_ROOT}/lib")

# OpenVINO (optional): the C++ runtime and its CMake config from the PyPI
# `openvino` wheel in the .venv (scripts/setup.sh openvino). AUTO: build the
# OpenVINO engine when the wheel is there.
set(AKIDB_WITH_OPENVINO AUTO CACHE STRING "Build the OpenVINO engine: ON, OFF or AUTO (when the .venv has the openvino wheel)")
set(AKIDB_OPENVINO_ENABLED OFF)
if(NOT AKIDB_WITH_OPENVINO STREQUAL "OFF")
  file(GLOB AKIDB_OPENVINO_CMAKE_DIRS "${CMAKE_SOURCE_DIR}/.venv/lib/python3*/site-packages/openvino/cmake")
  if(AKIDB_WITH_OPENVINO STREQUAL "ON")
    find_package(OpenVINO CONFIG REQUIRED COMPONENTS Runtime HINTS ${AKIDB_OPENVINO_CMAKE_DIRS})
  else()
    find_package(OpenVINO CONFIG QUIET COMPONENTS Runtime HINTS ${AKIDB_OPENVINO_CMAKE_DIRS})
  endif()
  if(OpenVINO_FOUND)
    set(AKIDB_OPENVINO_ENABLED ON)
    message(STATUS "OpenVINO ${OpenVINO_VERSION}: building the OpenVINO engine (${OpenVINO_DIR})")
  endif()
endif()
