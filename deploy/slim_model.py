#!/usr/bin/env python3
"""Copies a prepared model directory keeping only one variant (default: the
manifest's default_variant), for the container image.

    python deploy/slim_model.py SRC_DIR DST_DIR [--variant opt]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--variant", default=None)
    args = ap.parse_args()
    manifest = json.loads((args.src / "akidb.json").read_text())
    variant = args.variant or manifest["default_variant"]
    if variant not in manifest["variants"]:
        print(f"slim_model: no variant {variant!r} in {args.src}", file=sys.stderr)
        return 1
    model_file = manifest["variants"][variant]
    keep = {model_file, manifest["tokenizer"]}
    manifest["variants"] = {variant: model_file}
    manifest["default_variant"] = variant
    manifest["variant_details"] = {k: v for k, v in manifest.get("variant_details", {}).items()
                                   if k == variant}
    manifest["files"] = {k: v for k, v in manifest.get("files", {}).items() if k in keep}
    args.dst.mkdir(parents=True, exist_ok=True)
    for name in sorted(keep):
        shutil.copy2(args.src / name, args.dst / name)
    (args.dst / "akidb.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"slim_model: {args.dst} with variant {variant} ({model_file})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
