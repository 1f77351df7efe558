import { DEFAULT_LIMITS, type Limits } from './domain/catalog';

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

export interface Config {
  tableName: string;
  bucketName: string;
  /** Presigned URLs point here when set (the local stack's policy-checking S3 gateway). */
  s3PublicEndpoint: string | undefined;
  s3ForcePathStyle: boolean;
  limits: Limits;
  uploadTtlSeconds: number;
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
}

export function readConfig(): Config {
  return {
    tableName: required('TABLE_NAME'),
    bucketName: required('BUCKET_NAME'),
    s3PublicEndpoint: process.env.S3_PUBLIC_ENDPOINT || undefined,
    s3ForcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
    limits: {
      image: integer('MAX_IMAGE_BYTES', DEFAULT_LIMITS.image),
      video: integer('MAX_VIDEO_BYTES', DEFAULT_LIMITS.video),
    },
    uploadTtlSeconds: integer('UPLOAD_TTL_SECONDS', 900),
    jobRetentionDays: integer('JOB_RETENTION_DAYS', 30),
    maxRunning: integer('MAX_RUNNING', 3),
    queueTimeoutSeconds: integer('QUEUE_TIMEOUT_SECONDS', 3600),
    runTimeoutSeconds: integer('RUN_TIMEOUT_SECONDS', 900),
    stateMachineArn: required('STATE_MACHINE_ARN'),
    publicApiUrl: process.env.PUBLIC_API_URL?.replace(/\/+$/, '') || undefined,
    runningHub: {
      baseUrl: process.env.RUNNINGHUB_BASE_URL || 'https://www.runninghub.ai',
      apiKeySecret: required('RUNNINGHUB_API_KEY_SECRET'),
      workflows: required('RUNNINGHUB_WORKFLOWS'),
      fileHosts: (process.env.RUNNINGHUB_FILE_HOSTS ?? '')
        .split(',')
        .map((host) => host.trim())
        .filter(Boolean),
    },
    healGraceMs: integer('HEAL_GRACE_MS', 120_000),
    signupCredits: integer('SIGNUP_CREDITS', 3),
  };
}
