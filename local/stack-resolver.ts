import { ENV } from '../lambdas/env-names';
import type { CloudAssembly } from './cloud/assembly';
import { Resolver } from './cloud/resolver';

/** Local knobs that are deploy-time parameters of the stack: the same assembly serves every setting. */
const PARAMETER_KNOBS: Record<string, string> = {
  MaxRunning: ENV.maxRunning,
  QueueTimeoutSeconds: ENV.queueTimeoutSeconds,
  RunTimeoutSeconds: ENV.runTimeoutSeconds,
  HealGraceMs: ENV.healGraceMs,
  SignupCredits: ENV.signupCredits,
  MultipartThresholdBytes: ENV.multipartThresholdBytes,
  MultipartPartBytes: ENV.multipartPartBytes,
};

/**
 * The template's resolver on this machine: the physical names a deployment would choose (fixed, so a DATA_DIR
 * survives a restart) and the stack parameters the local knobs set.
 */
export function localResolver(
  { template, stackName }: CloudAssembly,
  options: { tableName: string; providerUrl: string; knob: (name: string) => string | undefined },
): Resolver {
  const physicalIds: Record<string, string> = {};
  for (const [id, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type === 'AWS::DynamoDB::Table') physicalIds[id] = options.tableName;
    if (resource.Type === 'AWS::S3::Bucket') physicalIds[id] = `${stackName}-${id}`.toLowerCase().slice(0, 63);
    if (resource.Type === 'AWS::Lambda::Function' || resource.Type === 'AWS::IAM::Role')
      physicalIds[id] = `${stackName}-${id}`.slice(0, 64);
  }
  const parameters: Record<string, string> = { RunningHubBaseUrl: options.providerUrl };
  for (const [parameter, name] of Object.entries(PARAMETER_KNOBS)) {
    const value = options.knob(name);
    if (value !== undefined) parameters[parameter] = value;
  }
  return new Resolver(template, {
    stackName,
    physicalIds,
    parameters: Object.fromEntries(Object.entries(parameters).filter(([name]) => name in (template.Parameters ?? {}))),
    attributes: {},
  });
}
