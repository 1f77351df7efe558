import { pathToFileURL } from 'node:url';
import { type MediaKind, TOOLS, type ToolId } from '../lambdas/domain/catalog';

/**
 * `npm run provider:inspect -- <workflowId> [--tool <toolId>]`: fetches a workflow's API format from RunningHub
 * (POST /api/openapi/getJsonApiFormat, the key from RUNNINGHUB_API_KEY, the host from RUNNINGHUB_BASE_URL) and
 * prints, for each input slot and param of each tool, the node fields that could take it, so an operator fills
 * RUNNINGHUB_WORKFLOWS from the workflow itself instead of guessing node ids.
 */

type ApiPrompt = Record<string, { class_type?: unknown; inputs?: Record<string, unknown>; _meta?: { title?: unknown } }>;

export interface Candidate {
  nodeId: string;
  fieldName: string;
  classType: string;
  title: string;
  /** The workflow's current value, as a hint. */
  value: string;
}

export interface Candidates {
  image: Candidate[];
  video: Candidate[];
  text: Candidate[];
  number: Candidate[];
}

/** Load nodes and the field that takes the file, as ComfyUI (and the VideoHelperSuite) name them. */
const FILE_FIELDS: Record<MediaKind, RegExp> = { image: /^image$/, video: /^(video|file)$/ };
const LOADERS: Record<MediaKind, RegExp> = { image: /LoadImage/i, video: /LoadVideo/i };

export async function fetchApiFormat(baseUrl: string, apiKey: string, workflowId: string, fetcher: typeof fetch = fetch) {
  const response = await fetcher(`${baseUrl.replace(/\/+$/, '')}/api/openapi/getJsonApiFormat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ apiKey, workflowId }),
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new Error(`getJsonApiFormat answered HTTP ${response.status}`);
  const reply = (await response.json()) as { code?: unknown; msg?: unknown; data?: { prompt?: unknown } | null };
  if (reply.code !== 0) throw new Error(`getJsonApiFormat answered ${String(reply.code)} ${String(reply.msg ?? '')}`.trim());
  const prompt = reply.data?.prompt;
  // `data.prompt` is the API format as a JSON string.
  const parsed: unknown = typeof prompt === 'string' ? JSON.parse(prompt) : prompt;
  if (typeof parsed !== 'object' || parsed === null) throw new Error('getJsonApiFormat carried no workflow in data.prompt');
  return parsed as ApiPrompt;
}

/** Every overridable field (not a link to another node) sorted into what it could take. */
export function candidates(prompt: ApiPrompt): Candidates {
  const found: Candidates = { image: [], video: [], text: [], number: [] };
  const ids = Object.keys(prompt).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  for (const nodeId of ids) {
    const node = prompt[nodeId];
    const classType = typeof node?.class_type === 'string' ? node.class_type : '?';
    const title = typeof node?._meta?.title === 'string' ? node._meta.title : classType;
    for (const [fieldName, value] of Object.entries(node?.inputs ?? {})) {
      if (Array.isArray(value)) continue; // a link: RunningHub's docs advise against overriding it
      const candidate = { nodeId, fieldName, classType, title, value: String(value) };
      const media = (Object.keys(LOADERS) as MediaKind[]).find(
        (kind) => LOADERS[kind].test(classType) && FILE_FIELDS[kind].test(fieldName),
      );
      if (media) found[media].push(candidate);
      else if (typeof value === 'number') found.number.push(candidate);
      else if (typeof value === 'string') found.text.push(candidate);
    }
  }
  return found;
}

/** The report: per tool, each slot's and param's candidates, and a map entry when every slot has one obvious node. */
export function report(workflowId: string, prompt: ApiPrompt, tools: ToolId[] = Object.keys(TOOLS) as ToolId[]): string {
  const found = candidates(prompt);
  const line = (c: Candidate) =>
    `    nodeId "${c.nodeId}" fieldName "${c.fieldName}"  — ${c.classType} "${c.title}" (now ${JSON.stringify(c.value)})`;
  const lines = [`Workflow ${workflowId}: ${Object.keys(prompt).length} nodes`];
  for (const tool of tools) {
    const spec = TOOLS[tool];
    lines.push('', `${tool}:`);
    const inputs: Record<string, { nodeId: string; fieldName: string }> = {};
    const used = new Map<MediaKind, number>();
    for (const [slot, kind] of Object.entries(spec.slots)) {
      lines.push(`  inputs.${slot} (${kind}):`, ...(found[kind].length ? found[kind].map(line) : ['    (no Load node takes this kind)']));
      // Slots take the loaders in node order, one each: a suggestion for the operator to check, not a fact.
      const next = found[kind][used.get(kind) ?? 0];
      used.set(kind, (used.get(kind) ?? 0) + 1);
      if (next) inputs[slot] = { nodeId: next.nodeId, fieldName: next.fieldName };
    }
    for (const [param, paramSpec] of Object.entries(spec.params)) {
      const numeric = paramSpec.values.every((v) => typeof v === 'number');
      const pool = numeric ? found.number : found.text;
      lines.push(`  params.${param} (${numeric ? 'number' : 'text'}, optional):`, ...(pool.length ? pool.map(line) : ['    (none)']));
    }
    if (Object.keys(inputs).length === Object.keys(spec.slots).length) {
      lines.push(`  suggested: ${JSON.stringify({ [tool]: { workflowId, inputs } })}`);
    }
  }
  return lines.join('\n');
}

async function main(args: string[]) {
  const toolAt = args.indexOf('--tool');
  const tool = toolAt >= 0 ? args[toolAt + 1] : undefined;
  const workflowId = args.find((arg, i) => !arg.startsWith('--') && i !== toolAt + 1 && arg !== tool);
  if (!workflowId) throw new Error('Usage: npm run provider:inspect -- <workflowId> [--tool <toolId>]');
  if (tool && !Object.hasOwn(TOOLS, tool)) throw new Error(`Unknown tool ${tool} (tools: ${Object.keys(TOOLS).join(', ')})`);
  const apiKey = process.env.RUNNINGHUB_API_KEY;
  if (!apiKey) throw new Error('Set RUNNINGHUB_API_KEY (and RUNNINGHUB_BASE_URL for another host than https://www.runninghub.ai)');
  const prompt = await fetchApiFormat(process.env.RUNNINGHUB_BASE_URL || 'https://www.runninghub.ai', apiKey, workflowId);
  console.log(report(workflowId, prompt, tool ? [tool as ToolId] : undefined));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
