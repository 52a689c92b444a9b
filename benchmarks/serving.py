"""Serving benchmark: aggregate chars/s and time to first character by clients.

1, 4, 16 and 64 concurrent streaming clients against one `keras-chargen
serve` process (the same model, in one run), each client streaming
`LENGTH` characters with its own seed. Prints, per client count, the
aggregate characters per second, time-to-first-character p50 / p99 and the
ratio to one client. The server runs in its own process, the clients are
threads of this one.

    python benchmarks/serving.py                  # a random 2x256 LSTM
    python benchmarks/serving.py --model run.keras
"""

import argparse
import concurrent.futures
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

# Settings.
CLIENTS = (1, 4, 16, 64)
LENGTH = 400  # characters each client streams
ROUNDS = 2  # runs per client count; the better one is reported
UNITS, LAYERS = 256, 2  # the random model when no --model is given


def random_model(path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import make_text

    from keras_chargen.layers.char_vectorizer import CharVectorizer
    from keras_chargen.models.char_lm import CharLM
    from keras_chargen.models.saving import save_model

    text = make_text(2000)
    model = CharLM(
        CharVectorizer(vocabulary=sorted(set(text))),
        embedding_dim=32,
        units=UNITS,
        num_layers=LAYERS,
    )
    model(np.ones((1, 4), "int32"))
    save_model(model, path)


def start(model, extra):
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_chargen_cli", "serve", str(model), "--port",
         "0", "--max-concurrent", "256", "--max-batch", "64", *extra],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = re.search(r"(http://\S+)", process.stdout.readline()).group(1)
    while httpx.get(url + "/health").json()["status"] != "ok":
        time.sleep(0.1)
    return process, url


def one_client(url, seed):
    body = {"prompt": "the ", "length": LENGTH, "seed": seed, "stream": True}
    start = time.perf_counter()
    first, chars = None, 0
    with httpx.Client(timeout=300) as client:
        with client.stream("POST", url + "/v1/generate", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and '"text"' in line:
                    chars += len(json.loads(line[6:])["text"])
                    first = first or time.perf_counter() - start
    return first, chars, time.perf_counter() - start


def run(url, clients):
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda s: one_client(url, s), range(clients)))
    wall = time.perf_counter() - start
    firsts = [r[0] for r in results]
    chars = sum(r[1] for r in results)
    assert chars == clients * LENGTH, (chars, clients * LENGTH)
    return chars / wall, np.percentile(firsts, 50), np.percentile(firsts, 99)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras file (default: a random 2x256 LSTM)")
    parser.add_argument("--chunk-size", default="8")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = args.model or Path(folder) / "bench.keras"
        if not args.model:
            random_model(model)
        process, url = start(model, ["--chunk-size", args.chunk_size])
        try:
            one_client(url, 0)  # compiles what the warm-up did not
            rows = []
            for clients in CLIENTS:
                best = max(
                    (run(url, clients) for _ in range(ROUNDS)), key=lambda r: r[0]
                )
                rows.append((clients, *best))
        finally:
            process.terminate()
            process.wait()
    base = rows[0][1]
    print(f"model: {args.model or f'random {LAYERS}x{UNITS} LSTM'}, {LENGTH} chars per "
          f"client, chunk size {args.chunk_size}")  # fmt: skip
    print("| clients | aggregate chars/s | vs 1 client | TTFC p50 | TTFC p99 |")
    print("|---|---|---|---|---|")
    for clients, rate, p50, p99 in rows:
        print(
            f"| {clients} | {rate:,.0f} | {rate / base:.1f}x | {p50:.3f} s | {p99:.3f} s |"
        )


if __name__ == "__main__":
    main()
