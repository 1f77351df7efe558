import { type Params, TOOLS, type ToolId } from '../domain/catalog';
import { ProviderFailed } from '../domain/errors';

/**
 * The operator's map from each tool to a RunningHub workflow (`workflowId`) or AI app (`webappId`), and from
 * each input slot and param to the node field that takes it (docs/PRODUCT.md "Provider configuration"). Pure: the
 * Lambda reads it at cold start, the stack at synth, the local stack at start-up, all through `parseWorkflowMap`.
 */

interface NodeField {
  nodeId: string;
  fieldName: string;
}

export interface NodeInfo extends NodeField {
  fieldValue: string;
}

export interface ToolWorkflow {
  /** `workflow` → POST /task/openapi/create {workflowId}; `webapp` → POST /task/openapi/ai-app/run {webappId}. */
  kind: 'workflow' | 'webapp';
  id: string;
  inputs: Record<string, NodeField>;
  params: Record<string, NodeField>;
}

export type WorkflowMap = Record<ToolId, ToolWorkflow>;

/** A missing or malformed map: its message names the tool and the field to fix. */
export class WorkflowConfigError extends Error {
  override name = 'WorkflowConfigError';
}

const TOOL_IDS = Object.keys(TOOLS) as ToolId[];
const SHAPE = '{"<tool>": {"workflowId" or "webappId": "<id>", "inputs": {"<slot>": {"nodeId", "fieldName"}}, "params"?: {...}}}';

/** Parses and validates the map; every problem is reported at once, each as a sentence naming its tool and field. */
export function parseWorkflowMap(json: string | undefined, name = 'RUNNINGHUB_WORKFLOWS'): WorkflowMap {
  if (json === undefined || json.trim() === '') throw new WorkflowConfigError(`${name} is not set: expected ${SHAPE}`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new WorkflowConfigError(`${name} is not valid JSON: expected ${SHAPE}`);
  }
  if (!isObject(value)) throw new WorkflowConfigError(`${name} must be a JSON object: expected ${SHAPE}`);
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    if (!TOOL_IDS.includes(key as ToolId)) problems.push(`"${key}" is not a tool (tools: ${TOOL_IDS.join(', ')})`);
  }
  const map: Partial<WorkflowMap> = {};
  for (const tool of TOOL_IDS) {
    const entry = readTool(tool, value[tool], problems);
    if (entry) map[tool] = entry;
  }
  if (problems.length) throw new WorkflowConfigError(`${name}: ${problems.join('; ')}`);
  return map as WorkflowMap;
}

function readTool(tool: ToolId, entry: unknown, problems: string[]): ToolWorkflow | null {
  if (entry === undefined) {
    problems.push(`"${tool}" is missing (${SHAPE})`);
    return null;
  }
  if (!isObject(entry)) {
    problems.push(`"${tool}" must be an object with workflowId or webappId and inputs`);
    return null;
  }
  const before = problems.length;
  const id = readId(tool, entry, problems);
  const inputs = readFields(tool, 'inputs', entry.inputs, Object.keys(TOOLS[tool].slots), true, problems);
  const params = readFields(tool, 'params', entry.params, Object.keys(TOOLS[tool].params), false, problems);
  for (const key of Object.keys(entry)) {
    if (!['workflowId', 'webappId', 'inputs', 'params'].includes(key)) problems.push(`"${tool}" has an unknown field ${key}`);
  }
  return problems.length === before && id ? { ...id, inputs, params } : null;
}

function readId(tool: ToolId, entry: Record<string, unknown>, problems: string[]) {
  const given = (['workflowId', 'webappId'] as const).filter((key) => entry[key] !== undefined);
  if (given.length !== 1) {
    problems.push(`"${tool}" needs exactly one of workflowId or webappId`);
    return null;
  }
  const key = given[0] as 'workflowId' | 'webappId';
  const id = entry[key];
  if (typeof id !== 'string') {
    // As JSON numbers, 19-digit RunningHub ids lose their last digits.
    problems.push(`"${tool}" ${key} must be a string (quote the id)`);
    return null;
  }
  if (!id.trim()) {
    problems.push(`"${tool}" ${key} is empty`);
    return null;
  }
  return { kind: key === 'workflowId' ? 'workflow' : 'webapp', id: id.trim() } as const;
}

function readFields(
  tool: ToolId,
  group: 'inputs' | 'params',
  value: unknown,
  names: string[],
  required: boolean,
  problems: string[],
): Record<string, NodeField> {
  if (value === undefined && !required) return {};
  if (!isObject(value)) {
    problems.push(`"${tool}" needs ${group} as an object {${names.map((n) => `"${n}": {nodeId, fieldName}`).join(', ')}}`);
    return {};
  }
  const fields: Record<string, NodeField> = {};
  for (const key of Object.keys(value)) {
    if (!names.includes(key)) {
      problems.push(
        `"${tool}" ${group}.${key} is not ${group === 'inputs' ? 'an input' : 'a param'} of ${tool} (${names.join(', ') || 'none'})`,
      );
    }
  }
  for (const name of names) {
    const field = value[name];
    if (field === undefined && !required) continue;
    const nodeId = isObject(field) && (typeof field.nodeId === 'number' ? String(field.nodeId) : field.nodeId);
    const fieldName = isObject(field) && field.fieldName;
    if (typeof nodeId !== 'string' || !nodeId.trim() || typeof fieldName !== 'string' || !fieldName.trim()) {
      problems.push(`"${tool}" needs ${group}.${name} ({nodeId, fieldName})`);
      continue;
    }
    fields[name] = { nodeId: nodeId.trim(), fieldName: fieldName.trim() };
  }
  return fields;
}

/**
 * The task's nodeInfoList: one entry per input slot (the fileName the upload returned, or a URL for files
 * above the upload limit) and one per mapped param (its value, or the tool's default, as a string).
 */
export function buildNodeInfoList(tool: ToolId, workflow: ToolWorkflow, params: Params, files: Record<string, string>): NodeInfo[] {
  const list: NodeInfo[] = [];
  for (const [slot, field] of Object.entries(workflow.inputs)) {
    const fieldValue = files[slot];
    if (fieldValue === undefined) throw new ProviderFailed(`No input was given for slot "${slot}" of ${tool}`);
    list.push({ ...field, fieldValue });
  }
  for (const [name, field] of Object.entries(workflow.params)) {
    const value = params[name] ?? TOOLS[tool].params[name]?.default;
    if (value !== undefined) list.push({ ...field, fieldValue: String(value) });
  }
  return list;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
