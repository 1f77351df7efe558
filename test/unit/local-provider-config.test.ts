import { describe, expect, it } from 'vitest';
import { WorkflowConfigError } from '../../lambdas/adapters/runninghub-workflows';
import { BUNDLED_WORKFLOW_MAP, BUNDLED_WORKFLOW_MAP_JSON } from '../../local/provider/workflows';
import { checkAssemblyMap, LocalConfigError, providerSetting } from '../../local/provider-config';

const from = (env: Record<string, string>) => (name: string) => env[name];
const all = {
  RUNNINGHUB_BASE_URL: 'https://rh.example.com/',
  RUNNINGHUB_API_KEY: 'key-1',
  RUNNINGHUB_WORKFLOWS: BUNDLED_WORKFLOW_MAP_JSON,
};

function refusal(env: Record<string, string>) {
  try {
    providerSetting(from(env));
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('providerSetting', () => {
  it('uses the bundled provider when none of the three variables is set', () => {
    expect(providerSetting(from({}))).toEqual({ kind: 'bundled' });
  });

  it('treats empty variables as unset', () => {
    expect(providerSetting(from({ RUNNINGHUB_BASE_URL: '', RUNNINGHUB_API_KEY: ' ' }))).toEqual({ kind: 'bundled' });
  });

  it('uses the external endpoint, its key and its map when all three are set', () => {
    expect(providerSetting(from(all))).toMatchObject({
      kind: 'external',
      baseUrl: 'https://rh.example.com',
      apiKey: 'key-1',
      workflows: BUNDLED_WORKFLOW_MAP_JSON,
      workflowMap: { 'try-on': { kind: 'webapp', id: BUNDLED_WORKFLOW_MAP['try-on'].webappId } },
    });
  });

  it('refuses one of the three, naming the two that are missing', () => {
    const error = refusal({ RUNNINGHUB_BASE_URL: all.RUNNINGHUB_BASE_URL });
    expect(error).toBeInstanceOf(LocalConfigError);
    expect(error.message).toBe(
      'RUNNINGHUB_BASE_URL is set but RUNNINGHUB_API_KEY and RUNNINGHUB_WORKFLOWS are not: an external RunningHub endpoint needs all three of ' +
        'RUNNINGHUB_BASE_URL, RUNNINGHUB_API_KEY and RUNNINGHUB_WORKFLOWS; set none of them to use the bundled provider.',
    );
  });

  it('refuses two of the three, naming the one that is missing', () => {
    const error = refusal({ RUNNINGHUB_API_KEY: 'k', RUNNINGHUB_WORKFLOWS: BUNDLED_WORKFLOW_MAP_JSON });
    expect(error.message).toMatch(/^RUNNINGHUB_API_KEY and RUNNINGHUB_WORKFLOWS are set but RUNNINGHUB_BASE_URL is not: /);
  });

  it('refuses a base URL that is not an http(s) URL', () => {
    expect(refusal({ ...all, RUNNINGHUB_BASE_URL: 'www.runninghub.ai' }).message).toContain('RUNNINGHUB_BASE_URL must be an http(s) URL');
  });

  it('refuses a malformed map with the sentence naming the tool and field', () => {
    const broken = structuredClone(BUNDLED_WORKFLOW_MAP) as Record<string, unknown>;
    delete broken['pose-changer'];
    const error = refusal({ ...all, RUNNINGHUB_WORKFLOWS: JSON.stringify(broken) });
    expect(error).toBeInstanceOf(WorkflowConfigError);
    expect(error.message).toContain('"pose-changer" is missing');
  });
});

describe('checkAssemblyMap', () => {
  it('accepts an assembly synthesized with the same map, however it is spelled', () => {
    const setting = providerSetting(from(all));
    expect(() => checkAssemblyMap(setting, [JSON.stringify(BUNDLED_WORKFLOW_MAP, null, 2), undefined])).not.toThrow();
  });

  it('refuses an assembly synthesized with another map', () => {
    const other = structuredClone(BUNDLED_WORKFLOW_MAP);
    other['upscale-image'].workflowId = '42';
    expect(() => checkAssemblyMap(providerSetting(from(all)), [JSON.stringify(other)])).toThrow(
      'RUNNINGHUB_WORKFLOWS is not the map CLOUD_ASSEMBLY was synthesized with',
    );
  });
});
