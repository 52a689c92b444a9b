"""Peak memory of `prepare_corpus` and of training on a prepared corpus, 10 MB vs 1 GB.

Issue 16's targets: peak resident memory grows by less than 100 MB from a
10 MB to a 1 GB corpus, and `prepare_corpus` reads at least 20 MB/s.

The corpora are generated under /tmp (never committed) by a deterministic
recipe from the embedded pydoc corpus (`load_corpus("pydoc")`, ~466 kB):
file `i` of a corpus folder holds the pydoc help topics in the order of
`random.Random(i).shuffle`, separated by blank lines, repeated until the
file has `FILE_MB` megabytes. A 10 MB corpus is 10 such files, a 1 GB
corpus 1,000 of them (folders `/tmp/keras_chargen_memory/{10,1000}MB`).

Each measurement runs in a fresh subprocess of this script (`--worker`),
which reports `resource.getrusage(RUSAGE_SELF).ru_maxrss` (peak resident
set, file-backed mapped pages included) and its wall time as JSON:

- `import`: `import keras_chargen` only, the floor every process pays.
- `prepare`: `prepare_corpus(folder, output)`, both passes.
- `train`: `make_datasets` on the prepared corpus and `model.fit` of a
  1x64 LSTM (embedding 16) for one epoch limited to `STEPS` batches of
  `BATCH` x `SEQUENCE` (one epoch of a 1 GB corpus would take this CPU
  days), then `VALIDATION_STEPS` validation batches.

Run from the repository root:

    python benchmarks/memory.py            # 10 MB and 1 GB (~10 min, 2.1 GB of /tmp)
    python benchmarks/memory.py --quick    # 2 MB and 20 MB, a smoke test
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import workers

# ---- settings ----
ROOT = Path("/tmp/keras_chargen_memory")
FILE_MB = 1  # megabytes per generated file
STEPS = 200  # training batches in the limited epoch
VALIDATION_STEPS = 20
BATCH = 64
SEQUENCE = 100
TARGET_GROWTH_MB = 100
TARGET_PREPARE_MB_S = 20


def generate(folder, megabytes):
    """Writes the recipe's corpus of `megabytes` files into `folder` (once)."""
    done = folder / ".complete"
    if done.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    from pydoc_data.topics import topics  # what load_corpus("pydoc") reads

    pieces = [topics[name].strip() for name in sorted(topics)]
    for i in range(megabytes // FILE_MB):
        order = pieces[:]
        random.Random(i).shuffle(order)
        block = "\n\n".join(order).encode("utf-8")
        size = FILE_MB * 1_000_000
        data = (block * (size // len(block) + 1))[:size]
        # Cut at a character boundary: drop a trailing partial UTF-8 sequence.
        data = data.decode("utf-8", "ignore").encode("utf-8")
        (folder / f"part-{i:05d}.txt").write_bytes(data)
    done.touch()


def worker(kind, source, prepared):
    started = time.perf_counter()
    import keras_chargen

    imported = time.perf_counter()
    report = {"kind": kind}
    if kind == "prepare":
        keras_chargen.prepare_corpus(source, prepared, verbose=False)
        report["bytes"] = sum(p.stat().st_size for p in Path(source).iterdir())
        report["seconds"] = time.perf_counter() - imported
    elif kind == "train":
        corpus = keras_chargen.PreparedCorpus(prepared)
        vectorizer = corpus.vectorizer()
        train_ds, val_ds = keras_chargen.make_datasets(
            corpus, vectorizer, SEQUENCE, BATCH, seed=0
        )
        model = keras_chargen.build_char_lstm(
            vectorizer=vectorizer, lstm_units=64, embedding_dim=16, num_layers=1
        )
        fit_started = time.perf_counter()
        model.fit(
            train_ds.take(STEPS),
            validation_data=val_ds.take(VALIDATION_STEPS),
            epochs=1,
            verbose=0,
        )
        report["seconds"] = time.perf_counter() - fit_started
        report["characters"] = len(corpus)
    report["total_seconds"] = time.perf_counter() - started
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers.emit(report)


def measure(kind, source, prepared):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "--worker", kind, str(source), str(prepared)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 MB and 20 MB")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    sizes = (2, 20) if args.quick else (10, 1000)
    rows = {}
    for megabytes in sizes:
        folder = ROOT / f"{megabytes}MB"
        prepared = ROOT / f"{megabytes}MB.prepared"
        print(f"Generating {folder}...", file=sys.stderr, flush=True)
        generate(folder, megabytes)
        shutil.rmtree(prepared, ignore_errors=True)
        rows[megabytes] = {
            kind: measure(kind, folder, prepared)
            for kind in ("import", "prepare", "train")
        }
        print(f"{megabytes} MB: {json.dumps(rows[megabytes])}", file=sys.stderr)
    small, large = sizes
    print("| corpus | process | peak RSS (MB) | seconds | rate |")
    print("|---|---|---:|---:|---|")
    for megabytes in sizes:
        row = rows[megabytes]
        rate = row["prepare"]["bytes"] / row["prepare"]["seconds"] / 1e6
        print(
            f"| {megabytes:,} MB | import only | {row['import']['max_rss_mb']:.0f} | | |"
        )
        print(
            f"| {megabytes:,} MB | prepare | {row['prepare']['max_rss_mb']:.0f} | "
            f"{row['prepare']['seconds']:.1f} | {rate:.1f} MB/s |"
        )
        steps = STEPS * BATCH * SEQUENCE / row["train"]["seconds"]
        print(
            f"| {megabytes:,} MB | train ({STEPS} steps) | "
            f"{row['train']['max_rss_mb']:.0f} | {row['train']['seconds']:.1f} | "
            f"{steps:,.0f} chars/s |"
        )
    for kind in ("prepare", "train"):
        growth = rows[large][kind]["max_rss_mb"] - rows[small][kind]["max_rss_mb"]
        met = "met" if growth < TARGET_GROWTH_MB else "NOT met"
        print(
            f"\n{kind}: peak RSS grows by {growth:.0f} MB from {small} MB to "
            f"{large} MB (target < {TARGET_GROWTH_MB} MB: {met})"
        )
    rate = rows[large]["prepare"]["bytes"] / rows[large]["prepare"]["seconds"] / 1e6
    met = "met" if rate >= TARGET_PREPARE_MB_S else "NOT met"
    print(f"prepare: {rate:.1f} MB/s on {large} MB (target >= 20 MB/s: {met})")
    print(workers.cpu_description())


if __name__ == "__main__":
    main()
