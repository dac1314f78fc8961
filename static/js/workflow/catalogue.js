// Reading the node catalogue (GET /api/workflow-nodes): a node's type and
// kind, its ports and its configuration schema. Pure lookups.

/** The spec of node type `type`, or undefined. */
export const typeSpec = (catalogue, type) => catalogue.node_types.find((t) => t.type === type);

/** The spec of `node`'s kind (its `config.kind`; "" for types without kinds), or undefined. */
export function kindSpec(catalogue, node) {
  const spec = typeSpec(catalogue, node.type);
  if (!spec) return undefined;
  return spec.kinds.find((k) => k.kind === (spec.kinded ? node.config?.kind || "" : ""));
}

/** The output ports of `node` (`next` when its kind is unknown). */
export const portsOf = (catalogue, node) => kindSpec(catalogue, node)?.ports || ["next"];

/** Whether `node` can have edges into it (every type but the trigger). */
export const hasInput = (catalogue, node) => (typeSpec(catalogue, node.type)?.inputs ?? 1) > 0;

/** Fields a panel shows last: tuning most nodes leave at its default. */
const LAST = new Set(["max_attempts"]);

/**
 * The configuration fields of a kind, `kind` left out: the required ones
 * first, then the others, attempts last (each group in the schema's order).
 */
export function fieldsOf(kind) {
  const schema = kind?.config_schema || {};
  const required = new Set(schema.required || []);
  const rank = (f) => (f.required ? 0 : LAST.has(f.name) ? 2 : 1);
  return Object.entries(schema.properties || {})
    .filter(([name]) => name !== "kind")
    .map(([name, prop]) => ({ name, required: required.has(name), ...prop }))
    .map((f, i) => [f, i])
    .sort(([a, i], [b, j]) => rank(a) - rank(b) || i - j)
    .map(([f]) => f);
}

/** What a palette offers: one entry per type, its first kind preselected. */
export function paletteEntries(catalogue) {
  return catalogue.node_types.map((t) => ({ type: t.type, kind: t.kinded ? t.kinds[0]?.kind || "" : "", label: t.label, description: t.description }));
}
