// The whole server in one process under concurrent load: the HTTP transport
// (Asio I/O threads handing requests to the handler pool), the Router, the
// Scheduler with its express lane, and the native engine of the default
// model, driven by several client threads over loopback. Every vector must
// equal, byte for byte, the vector of its text sent alone. Run by the
// ThreadSanitizer build (AKIDB_SANITIZE=thread), which sees every hand-off
// on the way; there it runs for a shorter time with smaller requests.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "akidb/embed/factory.hpp"
#include "server/http_server.hpp"
#include "test_support.hpp"

namespace akidb::embed {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

#ifdef AKIDB_SANITIZED
constexpr auto kLoad = std::chrono::seconds(3);
constexpr int kMaxInputs = 8;
constexpr int kMaxWords = 24;
#else
constexpr auto kLoad = std::chrono::seconds(4);
constexpr int kMaxInputs = 64;
constexpr int kMaxWords = 120;
#endif
constexpr int kClients = 4;

// One keep-alive HTTP/1.1 connection, blocking; enough of the protocol for
// the server's own answers (Content-Length bodies).
class Connection {
 public:
  explicit Connection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect() failed");
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // (status, body)
  std::pair<int, std::string> request(const std::string& method, const std::string& path,
                                      const std::string& body = {}) {
    send(method + " " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    std::size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) receive();
    const std::string head = in_.substr(0, end);
    in_.erase(0, end + 4);
    const int status = std::stoi(head.substr(head.find(' ') + 1, 3));
    const auto at = head.find("Content-Length: ");
    if (at == std::string::npos) throw std::runtime_error("no Content-Length in: " + head);
    const auto length = std::stoul(head.substr(at + 16));
    while (in_.size() < length) receive();
    std::string out = in_.substr(0, length);
    in_.erase(0, length);
    return {status, std::move(out)};
  }

 private:
  void send(const std::string& bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
      const auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send() failed");
      sent += static_cast<std::size_t>(n);
    }
  }
  void receive() {
    char buf[65536];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("the server closed the connection");
    in_.append(buf, static_cast<std::size_t>(n));
  }

  int fd_;
  std::string in_;
};

// The base64 float32 vectors of an OpenAI request, in input order: equal
// strings are equal bytes.
std::vector<std::string> embed(Connection& c, const std::vector<std::string>& texts) {
  const auto [status, body] = c.request(
      "POST", "/v1/embeddings", json{{"input", texts}, {"encoding_format", "base64"}}.dump());
  if (status != 200) throw std::runtime_error("HTTP " + std::to_string(status) + ": " + body);
  std::vector<std::string> out;
  const auto reply = json::parse(body);  // a named object: the loop must not outlive it
  for (const auto& d : reply.at("data")) out.push_back(d.at("embedding").get<std::string>());
  return out;
}

std::vector<std::string> texts_of_mixed_length() {
  static constexpr const char* kWords[] = {"the",   "quick", "brown", "fox",   "jumps", "over",
                                           "a",     "lazy",  "dog",   "while", "seven", "bright",
                                           "stars", "shine", "above", "quiet", "hills", "rivers"};
  std::mt19937 rng(21);
  std::vector<std::string> texts;
  for (int i = 0; i < 24; ++i) {
    // Mostly short (the express lane's), some long.
    const int words = i % 4 == 3 ? kMaxWords : 2 + static_cast<int>(rng() % 10);
    std::string t = std::to_string(i);  // (not "#" + ...: GCC 12 -O3 warns wrongly)
    for (int w = 0; w < words; ++w) t += std::string(" ") + kWords[rng() % std::size(kWords)];
    texts.push_back(std::move(t));
  }
  return texts;
}

struct Load {
  std::mutex mutex;
  std::size_t requests = 0;
  std::size_t vectors = 0;
  std::vector<std::string> failures;  // guarded by mutex

  void fail(std::string why) {
    const std::lock_guard lock(mutex);
    if (failures.size() < 10) failures.push_back(std::move(why));
  }
};

void client(int port, int seed, const std::vector<std::string>& texts,
            const std::map<std::string, std::string>& alone, Clock::time_point until,
            std::latch& go, Load& load) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::size_t requests = 0, vectors = 0;
  go.arrive_and_wait();  // all clients start together
  try {
    Connection c(port);
    while (Clock::now() < until) {
      if (requests % 16 == 15) {  // a scrape renders metrics while batches update them
        if (c.request("GET", "/metrics").first != 200) load.fail("GET /metrics failed");
      }
      // Half the requests are one short text, the rest 1..kMaxInputs texts of any length.
      const std::size_t n = rng() % 2 ? 1 : 1 + rng() % kMaxInputs;
      std::vector<std::string> mine;
      for (std::size_t i = 0; i < n; ++i) {
        mine.push_back(n == 1 ? texts[4 * (rng() % (texts.size() / 4))]
                              : texts[rng() % texts.size()]);
      }
      const auto got = embed(c, mine);
      if (got.size() != n) load.fail("wrong number of vectors");
      for (std::size_t i = 0; i < n && i < got.size(); ++i) {
        if (got[i] != alone.at(mine[i])) load.fail("a vector of '" + mine[i] + "' differs");
      }
      ++requests;
      vectors += n;
    }
  } catch (const std::exception& e) {
    load.fail(std::string("client ") + std::to_string(seed) + ": " + e.what());
  }
  const std::lock_guard lock(load.mutex);
  load.requests += requests;
  load.vectors += vectors;
}

// The default model on the native engine behind a real HttpServer on a free
// loopback port; stopped (listener joined, scheduler drained) on destruction,
// on every path.
class RunningServer {
 public:
  RunningServer() : provider_(make_provider(provider_options())), http_(options(), transport()) {
    port_ = http_.bind();
    listener_ = std::jthread([this] { http_.listen(); });
    while (!http_.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    http_.attach(*provider_);
  }
  ~RunningServer() {
    http_.stop();
    listener_.join();
    http_.drain();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  int port() const { return port_; }

 private:
  static ProviderOptions provider_options() {
    ProviderOptions po;
    po.model_dir = test::model_dir();
    po.engine = "native";
    po.threads = 2;  // a pool of one worker beside its caller, as in issue 21's hang
    return po;
  }
  static server::ServerOptions options() {
    server::ServerOptions so;
    so.port = 0;
    so.http_threads = kClients + 2;
    so.request_timeout = std::chrono::minutes(5);  // a sanitizer build is slow, not hung
    return so;
  }
  static server::TransportOptions transport() {
    server::TransportOptions t;
    t.io_threads = 2;
    return t;
  }

  std::unique_ptr<EmbeddingProvider> provider_;  // outlives the server
  server::HttpServer http_;
  std::jthread listener_;
  int port_ = 0;
};

TEST(ServerConcurrency, ClientsOverLoopbackGetTheVectorsOfSingleRequestsExactly) {
  RunningServer server;
  const auto texts = texts_of_mixed_length();
  std::map<std::string, std::string> alone;
  {
    Connection c(server.port());
    for (const auto& t : texts) alone[t] = embed(c, {t}).at(0);
  }
  Load load;
  std::latch go(kClients + 1);
  std::vector<std::jthread> clients;
  const auto until = Clock::now() + kLoad;
  for (int k = 0; k < kClients; ++k) {
    clients.emplace_back([&, k] { client(server.port(), k, texts, alone, until, go, load); });
  }
  go.arrive_and_wait();
  clients.clear();  // joins
  const auto metrics = Connection(server.port()).request("GET", "/metrics");

  std::string failures;
  for (const auto& f : load.failures) failures += f + "\n";
  EXPECT_EQ(failures, "");
  EXPECT_GE(load.requests, std::size_t{kClients});
  EXPECT_EQ(metrics.first, 200);
  RecordProperty("requests", static_cast<int>(load.requests));
  RecordProperty("vectors", static_cast<int>(load.vectors));
}

}  // namespace
}  // namespace akidb::embed
