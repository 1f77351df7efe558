import { isDeepStrictEqual } from 'node:util';
import { parseWorkflowMap, type WorkflowMap } from '../lambdas/adapters/runninghub-workflows';

/**
 * Which RunningHub-compatible provider the local stack's functions call (SPEC.md "Provider configuration"):
 * the bundled one, or the endpoint that RUNNINGHUB_BASE_URL, RUNNINGHUB_API_KEY and RUNNINGHUB_WORKFLOWS name
 * together. Pure: read once at start-up, before anything starts.
 */

/** A local configuration the stack refuses to start with; its message says what to set. */
export class LocalConfigError extends Error {
  override name = 'LocalConfigError';
}

const EXTERNAL_PROVIDER_VARIABLES = ['RUNNINGHUB_BASE_URL', 'RUNNINGHUB_API_KEY', 'RUNNINGHUB_WORKFLOWS'] as const;

export type ProviderSetting =
  | { kind: 'bundled' }
  | { kind: 'external'; baseUrl: string; apiKey: string; workflows: string; workflowMap: WorkflowMap };

/** All three variables → that endpoint; none → the bundled provider; one or two → refused, naming the missing ones. */
export function providerSetting(read: (name: string) => string | undefined): ProviderSetting {
  const values = Object.fromEntries(EXTERNAL_PROVIDER_VARIABLES.map((name) => [name, read(name)?.trim() || undefined]));
  const missing = EXTERNAL_PROVIDER_VARIABLES.filter((name) => values[name] === undefined);
  if (missing.length === EXTERNAL_PROVIDER_VARIABLES.length) return { kind: 'bundled' };
  if (missing.length > 0) {
    const given = EXTERNAL_PROVIDER_VARIABLES.filter((name) => !missing.includes(name));
    throw new LocalConfigError(
      `${listed(given)} ${given.length === 1 ? 'is' : 'are'} set but ${listed(missing)} ${missing.length === 1 ? 'is' : 'are'} not: ` +
        `an external RunningHub endpoint needs all three of ${listed([...EXTERNAL_PROVIDER_VARIABLES])}; set none of them to use the bundled provider.`,
    );
  }
  const baseUrl = values.RUNNINGHUB_BASE_URL as string;
  if (!/^https?:\/\/[^/\s]+/.test(baseUrl) || !URL.canParse(baseUrl)) {
    throw new LocalConfigError(`RUNNINGHUB_BASE_URL must be an http(s) URL such as https://www.runninghub.ai, got "${baseUrl}".`);
  }
  const workflows = values.RUNNINGHUB_WORKFLOWS as string;
  // WorkflowConfigError: a sentence naming the tool and the field.
  const workflowMap = parseWorkflowMap(workflows);
  return { kind: 'external', baseUrl: baseUrl.replace(/\/+$/, ''), apiKey: values.RUNNINGHUB_API_KEY as string, workflows, workflowMap };
}

/**
 * A given cloud assembly runs as it is: its functions carry the map it was synthesized with. An external endpoint's
 * map must be that one, or every create would name another workflow's nodes.
 */
export function checkAssemblyMap(setting: ProviderSetting, assemblyMaps: (string | undefined)[]) {
  if (setting.kind !== 'external') return;
  for (const json of new Set(assemblyMaps)) {
    if (json === undefined) continue;
    if (!isDeepStrictEqual(parseWorkflowMap(json, 'The assembly map'), setting.workflowMap)) {
      throw new LocalConfigError(
        'RUNNINGHUB_WORKFLOWS is not the map CLOUD_ASSEMBLY was synthesized with: unset CLOUD_ASSEMBLY so the stack synthesizes with it, ' +
          'or synthesize the assembly with -c runningHubWorkflows set to the same map.',
      );
    }
  }
}

function listed(names: string[]) {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
