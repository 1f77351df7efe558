import { describe, expect, it } from 'vitest';
import { buildNodeInfoList, parseWorkflowMap, WorkflowConfigError } from '../../lambdas/adapters/runninghub-workflows';
import { ProviderFailed } from '../../lambdas/domain/errors';
import { BUNDLED_WORKFLOW_MAP, BUNDLED_WORKFLOW_MAP_JSON } from '../../local/provider/workflows';

const map = (change: (m: Record<string, Record<string, unknown>>) => void) => {
  const copy = structuredClone(BUNDLED_WORKFLOW_MAP) as unknown as Record<string, Record<string, unknown>>;
  change(copy);
  return JSON.stringify(copy);
};

function problem(json: string | undefined) {
  try {
    parseWorkflowMap(json);
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the map to be refused');
}

describe('parseWorkflowMap', () => {
  it('reads workflows and AI apps with their input and param nodes', () => {
    const parsed = parseWorkflowMap(BUNDLED_WORKFLOW_MAP_JSON);
    expect(parsed['upscale-image']).toEqual({
      kind: 'workflow',
      id: '1950000000000000001',
      inputs: { image: { nodeId: '10', fieldName: 'image' } },
      params: { scale: { nodeId: '12', fieldName: 'value' } },
    });
    expect(parsed['try-on'].kind).toBe('webapp');
    expect(parsed['pose-changer'].params).toEqual({});
  });

  it.each([
    [
      'a missing input slot',
      map((m) => delete (m['try-on'] as { inputs: Record<string, unknown> }).inputs.garment),
      'RUNNINGHUB_WORKFLOWS: "try-on" needs inputs.garment ({nodeId, fieldName})',
    ],
    [
      'an input without fieldName',
      map((m) => ((m['upscale-image']?.inputs as Record<string, unknown>).image = { nodeId: '10' })),
      '"upscale-image" needs inputs.image ({nodeId, fieldName})',
    ],
    [
      'both ids',
      map((m) => Object.assign(m['pose-changer'] ?? {}, { webappId: '5' })),
      '"pose-changer" needs exactly one of workflowId or webappId',
    ],
    ['no id', map((m) => delete m['pose-changer']?.workflowId), '"pose-changer" needs exactly one of workflowId or webappId'],
    [
      'an id given as a number',
      // biome-ignore lint/correctness/noPrecisionLoss: the point: an id written as a JSON number loses its last digits.
      map((m) => Object.assign(m['upscale-video'] ?? {}, { workflowId: 1950000000000000002 })),
      '"upscale-video" workflowId must be a string (quote the id)',
    ],
    ['a missing tool', map((m) => delete m['upscale-video']), '"upscale-video" is missing'],
    ['an unknown tool', map((m) => Object.assign(m, { paint: {} })), '"paint" is not a tool'],
    [
      'an unknown slot',
      map((m) => Object.assign(m['try-on']?.inputs ?? {}, { hat: { nodeId: '1', fieldName: 'image' } })),
      '"try-on" inputs.hat is not an input of try-on (person, garment)',
    ],
    [
      'an unknown param',
      map((m) => Object.assign(m['pose-changer'] ?? {}, { params: { angle: { nodeId: '1', fieldName: 'value' } } })),
      '"pose-changer" params.angle is not a param of pose-changer (none)',
    ],
    [
      'a param without nodeId',
      map((m) => Object.assign(m['try-on'] ?? {}, { params: { category: { fieldName: 'text' } } })),
      '"try-on" needs params.category ({nodeId, fieldName})',
    ],
    ['text that is not JSON', '{"upscale-image":', 'RUNNINGHUB_WORKFLOWS is not valid JSON'],
    ['an array', '[]', 'RUNNINGHUB_WORKFLOWS must be a JSON object'],
    ['nothing', undefined, 'RUNNINGHUB_WORKFLOWS is not set'],
  ])('refuses %s with a sentence naming the tool and field', (_name, json, message) => {
    expect(problem(json)).toContain(message);
  });

  it('reports every problem at once', () => {
    const message = problem(
      map((m) => {
        delete (m['try-on'] as { inputs: Record<string, unknown> }).inputs.person;
        delete m['upscale-video'];
      }),
    );
    expect(message).toContain('"try-on" needs inputs.person');
    expect(message).toContain('"upscale-video" is missing');
  });

  it('names the setting it reads in its sentences', () => {
    expect(() => parseWorkflowMap('[]', 'runningHubWorkflows')).toThrow(/^runningHubWorkflows must be a JSON object/);
  });
});

describe('buildNodeInfoList', () => {
  const workflows = parseWorkflowMap(BUNDLED_WORKFLOW_MAP_JSON);

  it('sends each input file and the default scale, as strings', () => {
    expect(buildNodeInfoList('upscale-image', workflows['upscale-image'], {}, { image: 'api/a.png' })).toEqual([
      { nodeId: '10', fieldName: 'image', fieldValue: 'api/a.png' },
      { nodeId: '12', fieldName: 'value', fieldValue: '2' },
    ]);
  });

  it('carries both try-on images and the category at the mapped nodes', () => {
    const list = buildNodeInfoList(
      'try-on',
      workflows['try-on'],
      { category: 'bottom' },
      { person: 'api/p.png', garment: 'https://s3/g.png' },
    );
    expect(list).toEqual([
      { nodeId: '30', fieldName: 'image', fieldValue: 'api/p.png' },
      { nodeId: '31', fieldName: 'image', fieldValue: 'https://s3/g.png' },
      { nodeId: '33', fieldName: 'text', fieldValue: 'bottom' },
    ]);
  });

  it('refuses a task with a missing input slot', () => {
    expect(() => buildNodeInfoList('pose-changer', workflows['pose-changer'], {}, { person: 'api/p.png' })).toThrow(ProviderFailed);
  });
});
