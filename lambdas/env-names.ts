/**
 * The functions' environment, named once: `lambdas/config.ts` reads these, `infra/` sets them and the local stack
 * fills in its own endpoints and knobs. A name changed here changes everywhere, so the two sides cannot drift.
 */
export const ENV = {
  tableName: 'TABLE_NAME',
  bucketName: 'BUCKET_NAME',
  /** Presigned URLs point here when set: the local stack's policy-checking S3 door. */
  s3PublicEndpoint: 'S3_PUBLIC_ENDPOINT',
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
  maxImageBytes: 'MAX_IMAGE_BYTES',
  maxVideoBytes: 'MAX_VIDEO_BYTES',
  uploadTtlSeconds: 'UPLOAD_TTL_SECONDS',
  /** Files above this many bytes upload in parts (resumable); each part is MULTIPART_PART_BYTES but the last. */
  multipartThresholdBytes: 'MULTIPART_THRESHOLD_BYTES',
  multipartPartBytes: 'MULTIPART_PART_BYTES',
  jobRetentionDays: 'JOB_RETENTION_DAYS',
  maxRunning: 'MAX_RUNNING',
  queueTimeoutSeconds: 'QUEUE_TIMEOUT_SECONDS',
  runTimeoutSeconds: 'RUN_TIMEOUT_SECONDS',
  stateMachineArn: 'STATE_MACHINE_ARN',
  publicApiUrl: 'PUBLIC_API_URL',
  runningHubBaseUrl: 'RUNNINGHUB_BASE_URL',
  runningHubApiKeySecret: 'RUNNINGHUB_API_KEY_SECRET',
  runningHubWorkflows: 'RUNNINGHUB_WORKFLOWS',
  runningHubFileHosts: 'RUNNINGHUB_FILE_HOSTS',
  healGraceMs: 'HEAL_GRACE_MS',
  signupCredits: 'SIGNUP_CREDITS',
  /** The Secrets Manager secret the VAPID key pair is derived from (never the key itself). */
  vapidKeySecret: 'VAPID_KEY_SECRET',
  /** VAPID contact (`mailto:` or `https:`) push services may use to reach the operator. */
  pushContact: 'PUSH_CONTACT',
  /** Origins pushes may go to besides the known push services: set by the local stack for its tests only. */
  pushExtraOrigins: 'PUSH_EXTRA_ORIGINS',
  /** The WebSocket API's management endpoint (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`): set on functions that push. */
  liveEndpoint: 'LIVE_ENDPOINT',
  /** The user pool the push channel's authorizer trusts (`https://cognito-idp.<region>.amazonaws.com/<poolId>`) and its SPA client. */
  authIssuer: 'AUTH_ISSUER',
  authClientId: 'AUTH_CLIENT_ID',
} as const;
