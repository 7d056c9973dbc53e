#!/usr/bin/env python3
"""Triton's own Python clients (tritonclient.http and tritonclient.grpc), unchanged, against a running
tensorgate: health, metadata, config, statistics, repository index, and inference on the example
models with binary and JSON tensors, checked against numpy. Exits non-zero on the first mismatch.

Usage: tritonclient-check.py HTTP_URL [GRPC_URL]     (e.g. 127.0.0.1:8000 127.0.0.1:8001)
tritonclient is not in Debian or on the npm registry: put it on PYTHONPATH yourself.
"""
import sys

import numpy as np


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok   {what}")


def tiny_input(mod, batch=2):
    x = np.arange(16 * batch, dtype=np.float32).reshape(batch, 16)
    inp = mod.InferInput("x", list(x.shape), "FP32")
    return x, inp


def run(mod, url, name, binary):
    client = mod.InferenceServerClient(url=url)
    check(client.is_server_live(), f"{name}: server live")
    check(client.is_server_ready(), f"{name}: server ready")
    check(client.is_model_ready("tiny"), f"{name}: tiny ready")
    meta = client.get_server_metadata()
    meta = meta if isinstance(meta, dict) else {"name": meta.name}
    check(meta["name"] == "tensorgate", f"{name}: server metadata")
    mm = client.get_model_metadata("mlp")
    inputs = mm["inputs"] if isinstance(mm, dict) else [{"name": i.name, "datatype": i.datatype} for i in mm.inputs]
    check(inputs[0]["name"] == "x" and inputs[0]["datatype"] == "FP32", f"{name}: model metadata")
    cfg = client.get_model_config("mlp")
    cfg = cfg if isinstance(cfg, dict) else {"max_batch_size": cfg.config.max_batch_size}
    check(int(cfg["max_batch_size"]) > 0, f"{name}: model config")
    stats = client.get_inference_statistics("tiny")
    check(stats is not None, f"{name}: statistics")
    index = client.get_model_repository_index()
    names = {m["name"] for m in index} if isinstance(index, list) else {m.name for m in index.models}
    check({"tiny", "mlp"} <= names, f"{name}: repository index")

    x, inp = tiny_input(mod)
    if name == "http":
        inp.set_data_from_numpy(x, binary_data=binary)
        out = mod.InferRequestedOutput("y", binary_data=binary)
    else:
        inp.set_data_from_numpy(x)
        out = mod.InferRequestedOutput("y")
    result = client.infer("tiny", [inp], outputs=[out], request_id="r1")
    check(np.array_equal(result.as_numpy("y"), x + 1), f"{name}: tiny infer (binary={binary})")

    x = np.random.default_rng(7).standard_normal((3, 256)).astype(np.float32)
    inp = mod.InferInput("x", list(x.shape), "FP32")
    if name == "http":
        inp.set_data_from_numpy(x, binary_data=binary)
    else:
        inp.set_data_from_numpy(x)
    y = client.infer("mlp", [inp]).as_numpy("y")
    check(y.shape == (3, 16) and np.all(np.isfinite(y)), f"{name}: mlp infer, shape {y.shape}")
    return y


def main():
    import tritonclient.http as http

    y_http = run(http, sys.argv[1], "http", True)
    run(http, sys.argv[1], "http", False)
    if len(sys.argv) > 2:
        import tritonclient.grpc as grpc

        y_grpc = run(grpc, sys.argv[2], "grpc", True)
        check(np.array_equal(y_http, y_grpc), "http and grpc give the same mlp outputs")
        # Streaming: several requests in flight on one stream.
        client = grpc.InferenceServerClient(url=sys.argv[2])
        answers = []
        client.start_stream(callback=lambda result, error: answers.append((result, error)))
        for i in range(20):
            x, inp = tiny_input(grpc, batch=1)
            inp.set_data_from_numpy(x + i)
            client.async_stream_infer("tiny", [inp], request_id=str(i))
        client.stop_stream()
        ok = all(e is None and np.array_equal(r.as_numpy("y"), np.arange(16, dtype=np.float32).reshape(1, 16) + int(r.get_response().id) + 1) for r, e in answers)
        check(len(answers) == 20 and ok, "grpc: 20 streamed requests answered")
    print("tritonclient: all checks passed")


if __name__ == "__main__":
    main()
