#!/usr/bin/env python3
"""Copies chosen cases of a "loss-reference/1" file into a new file, unchanged.

    python3 extract_cases.py SOURCE.json ID [ID ...] --out OUT.json [--append]

Used for torch-cases-edges.json (see README.md here): a few cases of larger generated
sets, kept small enough to commit. Values are copied as parsed (Python's floats
round-trip exactly), never recomputed or edited.
"""
import argparse, json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("ids", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--append", action="store_true", help="add to OUT's cases instead of replacing the file")
    a = ap.parse_args()
    with open(a.source) as f:
        src = json.load(f)
    assert src.get("format") == "loss-reference/1", "not a loss-reference/1 file"
    by_id = {c["id"]: c for c in src["cases"]}
    missing = [i for i in a.ids if i not in by_id]
    assert not missing, f"not in {a.source}: {missing}"
    out = {"format": "loss-reference/1", "generator": "extract_cases.py", "cases": []}
    if a.append:
        with open(a.out) as f:
            out = json.load(f)
    out["cases"] += [by_id[i] for i in a.ids]
    # Where they came from: the source's generator and seed, as it recorded them.
    out.setdefault("sources", []).append({"generator": src.get("generator"), "seed": src.get("seed"), "ids": a.ids})
    with open(a.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
