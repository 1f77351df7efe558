import { createHash, randomBytes } from 'node:crypto';
import { ENV } from '../lambdas/env-names';
import type { CloudAssembly } from './cloud/assembly';
import { LOCAL_ACCOUNT, LOCAL_REGION, type Resolver } from './cloud/resolver';
import { assumedRolePrincipal, functionRolePolicies, type GatewayIdentity, PolicyEvaluator } from './iam';
import type { AsyncFailure, FunctionSpec } from './lambda/lambda-service';

/** What each function runs as: its own AWS key for its own role, and the environment Lambda gives its sandboxes. */

export type FunctionIdentity = GatewayIdentity & { accessKeyId: string };

/**
 * IAM: each function calls AWS with its own key, as its own role; the gateway evaluates every call against that role's
 * policies from the template and answers AccessDenied as AWS would.
 */
export function functionIdentities(template: CloudAssembly['template'], functions: FunctionSpec[], resolver: Resolver) {
  const byKey = new Map<string, FunctionIdentity>();
  const byFunction = new Map<string, FunctionIdentity>();
  for (const spec of functions) {
    const role = functionRolePolicies(template, spec.logicalId, (value) => resolver.resolve(value));
    const identity = {
      accessKeyId: `ASIA${createHash('sha256').update(spec.name).digest('hex').slice(0, 16).toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64url'),
      principalArn: assumedRolePrincipal(role.roleName, spec.name),
      functionName: spec.name,
      policies: role.policies,
    };
    byKey.set(identity.accessKeyId, identity);
    byFunction.set(spec.name, identity);
  }
  return { byKey, byFunction };
}

export interface SandboxContext {
  identity: FunctionIdentity | undefined;
  /** The IAM gateway's endpoint per service. */
  endpoints: Partial<Record<string, string>>;
  /** The stack's public URL (the S3 gateway is at /s3). */
  publicUrl: string;
  pushExtraOrigins: string | undefined;
}

/** The environment of a function's sandbox: what Lambda sets, and where "AWS" is on this machine. */
export function sandboxEnvironment(
  spec: FunctionSpec,
  { identity, endpoints, publicUrl, pushExtraOrigins }: SandboxContext,
): Record<string, string> {
  return {
    // What Lambda sets in every sandbox…
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: spec.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memorySize),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.name}`,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: spec.codeDir,
    _HANDLER: spec.handler,
    AWS_ACCESS_KEY_ID: identity?.accessKeyId ?? '',
    AWS_SECRET_ACCESS_KEY: identity?.secretAccessKey ?? '',
    // …and where "AWS" is on this machine (DNS, in the cloud). Presigned URLs go to the policy-checking S3 door.
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb ?? '',
    AWS_ENDPOINT_URL_S3: endpoints.s3 ?? '',
    AWS_ENDPOINT_URL_SFN: endpoints.sfn ?? '',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsmanager ?? '',
    [ENV.s3ForcePathStyle]: 'true',
    [ENV.s3PublicEndpoint]: `${publicUrl}/s3`,
    // Tests run their own plain-HTTP push endpoint (PUSH_EXTRA_ORIGINS=http://127.0.0.1); nothing else is allowed.
    ...(pushExtraOrigins ? { [ENV.pushExtraOrigins]: pushExtraOrigins } : {}),
    // The sandbox runs on this machine's Node (20); Lambda's is 22.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/**
 * On-failure destinations: an async event that failed every attempt reaches its destination (kept by ARN) only if the
 * function's role may `sqs:SendMessage` to it, as Lambda does.
 */
export function failureDestinations(byFunction: Map<string, FunctionIdentity>) {
  const destinations = new Map<string, AsyncFailure[]>();
  const evaluator = new PolicyEvaluator({ account: LOCAL_ACCOUNT });
  const onAsyncFailure = async (failure: AsyncFailure) => {
    const identity = byFunction.get(failure.functionName);
    if (!failure.destination || !identity) return;
    const action = failure.destination.startsWith('arn:aws:sqs:') ? 'sqs:SendMessage' : 'lambda:InvokeFunction';
    if ((await evaluator.evaluate(identity, { action, resource: failure.destination })) !== 'Allowed') {
      console.error(`[${failure.functionName}] AccessDenied: ${action} on ${failure.destination}; the failed event is dropped`);
      return;
    }
    destinations.set(failure.destination, [...(destinations.get(failure.destination) ?? []), failure]);
  };
  return { destinations, onAsyncFailure };
}
