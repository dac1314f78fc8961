#!/usr/bin/env python3
"""Verify an EchoPilot audit export offline (python3, standard library only).

    curl -s -H "Authorization: Bearer $TOKEN" \
      "https://echopilot.example/api/audit/export?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z" > export.json
    python3 verify_audit_export.py export.json --secret-file audit_signing_secret.txt

Checks, with the file alone: the format; sequence numbers contiguous from
first_seq to last_seq, in order, none twice (a forked chain); every entry's
prev_hash is the previous entry's hash (the first: start_hash); every hash
recomputes from the entry's content; the declared count and end hashes; the
anchors follow one another (prev_signature) and each anchors an entry of the
export with the same hash. With --secret-file (the `audit_signing_secret`,
HMAC keys being symmetric): every anchor's key id and signature, and the
manifest signature over bounds, count and end hashes, which is what finds a
run rewritten with fresh hashes or cut short.

Exit status: 0 verified, signatures included; 1 broken (the first problem
is printed); 2 unreadable file or bad arguments; 3 consistent, but the
signatures were not checked (no --secret-file, or anchoring not configured).
"""

import argparse
import hashlib
import hmac
import json
import sys

FORMAT = "echopilot-audit-export/1"
GENESIS = "genesis"


class Broken(Exception):
    """The export does not verify."""


def canonical(e):
    content = {k: e[k] for k in ("action", "actor", "build_sha", "detail", "request_id",
                                 "seq", "target", "tenant", "ts")}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(e):
    data = (e["prev_hash"] + "\n" + canonical(e)).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def derive_key(secret, purpose):
    return hmac.new(secret.encode("utf-8"), ("echopilot-key|" + purpose).encode("utf-8"),
                    hashlib.sha256).digest()


def sign(key, message):
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def anchor_message(a):
    return "audit-anchor|v1|%d|%s|%d|%s|%s" % (a["seq"], a["hash"], a["anchored_at"],
                                               a["key_id"], a["prev_signature"])


def check_entries(doc):
    entries = doc["entries"]
    if len(entries) != doc["count"]:
        raise Broken("the export declares %d entries but holds %d: rows were added or cut"
                     % (doc["count"], len(entries)))
    prev_hash = doc["start_hash"]
    expected = doc["first_seq"]
    seen = set()
    for e in entries:
        seq = e["seq"]
        if seq in seen:
            raise Broken("entry %d appears twice: a forked chain" % seq)
        seen.add(seq)
        if seq != expected:
            raise Broken("entry %d where %d was expected: rows are missing or reordered"
                         % (seq, expected))
        if e["prev_hash"] != prev_hash:
            raise Broken("entry %d: prev_hash does not match the previous entry's hash "
                         "(a forked or spliced chain)" % seq)
        if entry_hash(e) != e["hash"]:
            raise Broken("entry %d: hash does not match the entry's content "
                         "(an edited payload or a forged hash)" % seq)
        prev_hash = e["hash"]
        expected = seq + 1
    if entries and entries[-1]["seq"] != doc["last_seq"]:
        raise Broken("the last entry is %d but the export declares %d: the tail was cut"
                     % (entries[-1]["seq"], doc["last_seq"]))
    if prev_hash != doc["last_hash"]:
        raise Broken("the last entry's hash is not the declared last_hash: the tail was changed")
    return {e["seq"]: e["hash"] for e in entries}


def check_anchors(doc, hashes, key):
    anchors = doc["anchors"]
    previous = anchors.get("previous")
    prev_sig = previous["signature"] if previous else anchors["first_prev_signature"]
    checked = list(anchors["in_range"]) + ([previous] if previous else [])
    if key is not None:
        key_id = sign(key, "audit-key-id")[:16]
        for a in checked:
            if a["key_id"] != key_id:
                raise Broken("the anchor of entry %d was signed with another key (%s, not %s)"
                             % (a["seq"], a["key_id"], key_id))
            if not hmac.compare_digest(sign(key, anchor_message(a)), a["signature"]):
                raise Broken("the anchor of entry %d does not match its signature: "
                             "edited or forged" % a["seq"])
    last = previous["seq"] if previous else 0
    for a in anchors["in_range"]:
        if a["seq"] <= last:
            raise Broken("anchors are out of order at entry %d" % a["seq"])
        if a["prev_signature"] != prev_sig:
            raise Broken("the anchor of entry %d does not follow the one before it: "
                         "anchors were removed or replaced" % a["seq"])
        if a["seq"] not in hashes:
            raise Broken("entry %d is anchored but missing from the export: the chain was cut"
                         % a["seq"])
        if hashes[a["seq"]] != a["hash"]:
            raise Broken("entry %d differs from its anchor: the chain was rewritten" % a["seq"])
        prev_sig = a["signature"]
        last = a["seq"]
    return len(anchors["in_range"])


def check_manifest(doc, secret):
    given = doc["manifest"].get("signature")
    if not given:
        raise Broken("the export carries no manifest signature, yet a secret was given")
    message = "audit-export|v1|%d|%d|%d|%s|%s|%d" % (
        doc["first_seq"], doc["last_seq"], doc["count"], doc["start_hash"], doc["last_hash"],
        doc["exported_at"])
    if not hmac.compare_digest(sign(derive_key(secret, "audit-export-v1"), message), given):
        raise Broken("the manifest signature does not match the export's bounds, count and "
                     "end hashes: entries were cut, added or rewritten")


def verify(doc, secret):
    """Return a one-line summary and whether signatures were checked; raise Broken."""
    if isinstance(doc, dict) and "ok" in doc and "data" in doc:
        doc = doc["data"]
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Broken("not an %s document" % FORMAT)
    hashes = check_entries(doc)
    signed = secret is not None and doc["anchors"]["status"] == "configured"
    key = derive_key(secret, "audit-anchor-v1") if signed else None
    anchored = check_anchors(doc, hashes, key)
    if signed:
        check_manifest(doc, secret)
    summary = "entries %d..%d (%d) link from %s; %d anchors in range" % (
        doc["first_seq"], doc["last_seq"], doc["count"], doc["start_hash"][:12], anchored)
    return summary, signed


def main(argv):
    p = argparse.ArgumentParser(description="Verify an EchoPilot audit export offline.")
    p.add_argument("export", help="the JSON from GET /api/audit/export")
    p.add_argument("--secret-file", help="a file holding audit_signing_secret")
    args = p.parse_args(argv)
    try:
        with open(args.export, encoding="utf-8") as f:
            doc = json.load(f)
        secret = None
        if args.secret_file:
            with open(args.secret_file, encoding="utf-8") as f:
                secret = f.read().strip()
    except (OSError, ValueError) as e:
        print("UNREADABLE: %s" % e)
        return 2
    try:
        summary, signed = verify(doc, secret)
    except Broken as e:
        print("BROKEN: %s" % e)
        return 1
    except (KeyError, TypeError, ValueError) as e:
        print("BROKEN: malformed export (%s: %s)" % (type(e).__name__, e))
        return 1
    if not signed:
        print("CONSISTENT, SIGNATURES NOT CHECKED: %s (give --secret-file, and anchor "
              "with audit_signing_secret set, to rule out a rewrite with fresh hashes)" % summary)
        return 3
    print("VERIFIED: %s; anchors and manifest signatures hold" % summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
