"""Parse a Prometheus text exposition from stdin with the official Python
client's parser (Debian's python3-prometheus-client) and print its samples
as JSON: [[sample name, {labels}, value as a string], ...]. A malformed
exposition makes the parser raise, and this script exit non-zero."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
types = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    types[family.name] = family.type
    for s in family.samples:
        samples.append([s.name, s.labels, repr(float(s.value))])
json.dump({"types": types, "samples": samples}, sys.stdout)
