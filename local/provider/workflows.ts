import type { ToolId } from '../../lambdas/domain/catalog';

/**
 * The bundled provider's own published workflows and AI apps, in ComfyUI's API format (what RunningHub's
 * "Get Workflow JSON" returns as `data.prompt`): node id → {class_type, inputs, _meta}. The provider
 * validates every nodeInfoList against these nodes, never against Ghostless's map, so a wrong map fails here
 * the way it would on RunningHub (803). `reads` says where each workflow's work takes its values from.
 */

type ApiNode = { class_type: string; inputs: Record<string, unknown>; _meta: { title: string } };
export type ApiPrompt = Record<string, ApiNode>;

export interface ProviderWorkflow {
  kind: 'workflow' | 'webapp';
  /** Which local transform runs it. */
  runs: ToolId;
  prompt: ApiPrompt;
  /** Work value → [nodeId, fieldName] in `prompt`. */
  reads: Record<string, [string, string]>;
}

const node = (class_type: string, title: string, inputs: Record<string, unknown>): ApiNode => ({ class_type, inputs, _meta: { title } });
/** A link to another node's output, as ComfyUI's API format writes it: not overridable by nodeInfoList. */
const link = (nodeId: string, output = 0) => [nodeId, output];

export const BUNDLED_WORKFLOWS: Record<string, ProviderWorkflow> = {
  '1950000000000000001': {
    kind: 'workflow',
    runs: 'upscale-image',
    prompt: {
      '10': node('LoadImage', 'Load Image', { image: 'example.png', upload: 'image' }),
      '11': node('UpscaleModelLoader', 'Load Upscale Model', { model_name: 'RealESRGAN_x4plus.pth' }),
      '12': node('PrimitiveFloat', 'Scale', { value: 2 }),
      '13': node('ImageScaleBy', 'Upscale Image By', { image: link('10'), upscale_method: 'lanczos', scale_by: link('12') }),
      '99': node('SaveImage', 'Save Image', { images: link('13'), filename_prefix: 'upscaled' }),
    },
    reads: { image: ['10', 'image'], scale: ['12', 'value'] },
  },
  '1950000000000000002': {
    kind: 'workflow',
    runs: 'upscale-video',
    prompt: {
      '20': node('VHS_LoadVideo', 'Load Video', { video: 'example.mp4', force_rate: 0, frame_load_cap: 0 }),
      '22': node('PrimitiveFloat', 'Scale', { value: 2 }),
      '23': node('ImageScaleBy', 'Upscale Frames', { image: link('20'), upscale_method: 'lanczos', scale_by: link('22') }),
      '99': node('VHS_VideoCombine', 'Video Combine', { images: link('23'), frame_rate: 24, format: 'video/h264-mp4' }),
    },
    reads: { video: ['20', 'video'], scale: ['22', 'value'] },
  },
  '1950000000000000003': {
    kind: 'workflow',
    runs: 'pose-changer',
    prompt: {
      '40': node('LoadImage', 'Person', { image: 'person.png', upload: 'image' }),
      '41': node('LoadImage', 'Pose reference', { image: 'pose.png', upload: 'image' }),
      '42': node('DWPreprocessor', 'Pose estimation', { image: link('41'), resolution: 512 }),
      '43': node('CLIPTextEncode', 'Prompt', { text: 'a person, full body', clip: link('44', 1) }),
      '44': node('CheckpointLoaderSimple', 'Checkpoint', { ckpt_name: 'sdxl.safetensors' }),
      '99': node('SaveImage', 'Save Image', { images: link('42'), filename_prefix: 'posed' }),
    },
    reads: { person: ['40', 'image'], pose: ['41', 'image'] },
  },
  '1950000000000000004': {
    kind: 'webapp',
    runs: 'try-on',
    prompt: {
      '30': node('LoadImage', 'Person', { image: 'person.png', upload: 'image' }),
      '31': node('LoadImage', 'Garment', { image: 'garment.png', upload: 'image' }),
      '33': node('PrimitiveString', 'Garment category', { text: 'top' }),
      '34': node('CatVTONWrapper', 'Try-on', { image: link('30'), mask: link('31'), category: link('33'), steps: 30 }),
      '99': node('SaveImage', 'Save Image', { images: link('34'), filename_prefix: 'tryon' }),
    },
    reads: { person: ['30', 'image'], garment: ['31', 'image'], category: ['33', 'text'] },
  },
};

/**
 * The RUNNINGHUB_WORKFLOWS map an operator would write for the bundled provider, from its nodes (the local
 * stack passes it; the stack falls back to it when synthesized without an operator's map).
 */
export const BUNDLED_WORKFLOW_MAP = {
  'upscale-image': {
    workflowId: '1950000000000000001',
    inputs: { image: { nodeId: '10', fieldName: 'image' } },
    params: { scale: { nodeId: '12', fieldName: 'value' } },
  },
  'upscale-video': {
    workflowId: '1950000000000000002',
    inputs: { video: { nodeId: '20', fieldName: 'video' } },
    params: { scale: { nodeId: '22', fieldName: 'value' } },
  },
  'pose-changer': {
    workflowId: '1950000000000000003',
    inputs: { person: { nodeId: '40', fieldName: 'image' }, pose: { nodeId: '41', fieldName: 'image' } },
  },
  'try-on': {
    webappId: '1950000000000000004',
    inputs: { person: { nodeId: '30', fieldName: 'image' }, garment: { nodeId: '31', fieldName: 'image' } },
    params: { category: { nodeId: '33', fieldName: 'text' } },
  },
};

export const BUNDLED_WORKFLOW_MAP_JSON = JSON.stringify(BUNDLED_WORKFLOW_MAP);

/** Checks a nodeInfoList against the workflow's own nodes; returns the overridden prompt, or why it does not match (803). */
export function applyNodeInfoList(workflow: ProviderWorkflow, list: unknown): ApiPrompt | string {
  if (!Array.isArray(list)) return 'nodeInfoList must be an array';
  const prompt = structuredClone(workflow.prompt);
  for (const entry of list as Record<string, unknown>[]) {
    const nodeId = typeof entry?.nodeId === 'number' ? String(entry.nodeId) : entry?.nodeId;
    const fieldName = entry?.fieldName;
    if (typeof nodeId !== 'string' || typeof fieldName !== 'string') return 'every nodeInfoList entry needs nodeId and fieldName';
    const target = prompt[nodeId];
    if (!target) return `node ${nodeId} does not exist in this workflow`;
    if (!Object.hasOwn(target.inputs, fieldName)) return `node ${nodeId} (${target.class_type}) has no field ${fieldName}`;
    if (Array.isArray(target.inputs[fieldName])) return `node ${nodeId} field ${fieldName} is a link, not a value`;
    const value = entry.fieldValue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return `node ${nodeId} field ${fieldName} needs a fieldValue`;
    }
    target.inputs[fieldName] = value;
  }
  return prompt;
}

/** The values the workflow's work reads from its (overridden) nodes. */
export function readValues(workflow: ProviderWorkflow, prompt: ApiPrompt): Record<string, string> {
  return Object.fromEntries(
    Object.entries(workflow.reads).map(([name, [nodeId, fieldName]]) => [name, String(prompt[nodeId]?.inputs[fieldName] ?? '')]),
  );
}
