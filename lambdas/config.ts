import { DEFAULT_LIMITS, type Limits, MB } from './domain/catalog';
import { MIN_PART_BYTES } from './domain/multipart';
import { ENV } from './env-names';

/** Reads the environment once; a missing variable fails at cold start with its name. */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Missing environment variable ${name}`);
  return value;
}

function integer(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`Environment variable ${name} must be a whole number`);
  return value;
}

/** A comma-separated list; empty when unset. */
function list(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

export interface Config {
  tableName: string;
  bucketName: string;
  /** Presigned URLs point here when set (the local stack's policy-checking S3 gateway). */
  s3PublicEndpoint: string | undefined;
  s3ForcePathStyle: boolean;
  limits: Limits;
  uploadTtlSeconds: number;
  /** Files above thresholdBytes go up as S3 multipart uploads of partBytes parts. */
  multipart: { thresholdBytes: number; partBytes: number };
  /** How long a terminal job stays in the table before TTL removes it. */
  jobRetentionDays: number;
  /** Global number of jobs running on the provider at once. */
  maxRunning: number;
  queueTimeoutSeconds: number;
  runTimeoutSeconds: number;
  stateMachineArn: string;
  /** Public base URL of the API, for the provider's webhook; only the function that starts provider tasks has it. */
  publicApiUrl: string | undefined;
  /** fileHosts: where output files may come from besides the API host (`cdn.example.com`, `*.example.com`). */
  /** apiKeySecret: the Secrets Manager secret holding the API key (never the key itself). */
  runningHub: { baseUrl: string; apiKeySecret: string; workflows: string; fileHosts: string[] };
  /** How long a job may look driverless before the sweeper finalizes it. */
  healGraceMs: number;
  /** Credits a new user gets once, on first use. */
  signupCredits: number;
  /** vapidKeySecret: the secret the VAPID keys derive from; extraOrigins: push endpoints allowed besides the push services. */
  push: { vapidKeySecret: string; contact: string; extraOrigins: string[] };
  /** Where job events are pushed (the WebSocket API's management endpoint); unset: nothing is pushed. */
  liveEndpoint?: string;
}

export function readConfig(): Config {
  return {
    tableName: required(ENV.tableName),
    bucketName: required(ENV.bucketName),
    s3PublicEndpoint: process.env[ENV.s3PublicEndpoint] || undefined,
    s3ForcePathStyle: process.env[ENV.s3ForcePathStyle] === 'true',
    limits: {
      image: integer(ENV.maxImageBytes, DEFAULT_LIMITS.image),
      video: integer(ENV.maxVideoBytes, DEFAULT_LIMITS.video),
    },
    uploadTtlSeconds: integer(ENV.uploadTtlSeconds, 900),
    multipart: {
      thresholdBytes: integer(ENV.multipartThresholdBytes, 16 * MB),
      partBytes: Math.max(MIN_PART_BYTES, integer(ENV.multipartPartBytes, 8 * MB)),
    },
    jobRetentionDays: integer(ENV.jobRetentionDays, 30),
    maxRunning: integer(ENV.maxRunning, 3),
    queueTimeoutSeconds: integer(ENV.queueTimeoutSeconds, 3600),
    runTimeoutSeconds: integer(ENV.runTimeoutSeconds, 900),
    stateMachineArn: required(ENV.stateMachineArn),
    publicApiUrl: process.env[ENV.publicApiUrl]?.replace(/\/+$/, '') || undefined,
    runningHub: {
      baseUrl: process.env[ENV.runningHubBaseUrl] || 'https://www.runninghub.ai',
      apiKeySecret: required(ENV.runningHubApiKeySecret),
      workflows: required(ENV.runningHubWorkflows),
      fileHosts: list(ENV.runningHubFileHosts),
    },
    healGraceMs: integer(ENV.healGraceMs, 120_000),
    signupCredits: integer(ENV.signupCredits, 3),
    push: {
      vapidKeySecret: required(ENV.vapidKeySecret),
      contact: process.env[ENV.pushContact] || 'mailto:push@ghostless.app',
      extraOrigins: list(ENV.pushExtraOrigins),
    },
    liveEndpoint: process.env[ENV.liveEndpoint] || undefined,
  };
}

/** The push channel's connection function: only the table. */
export function readConnectionConfig() {
  return { tableName: required(ENV.tableName) };
}

/** The push channel's authorizer: the user pool's issuer and the SPA's client id, as the HTTP API's JWT authorizer has them. */
export function readAuthorizerConfig() {
  return { issuer: required(ENV.authIssuer).replace(/\/+$/, ''), clientId: required(ENV.authClientId) };
}
