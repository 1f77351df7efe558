import path from 'node:path';
import { type CfnResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ENV } from '../../lambdas/env-names';
import { acknowledgeWildcard } from '../nag';
import { TABLE_ACCESS } from './table-access';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const HANDLER_METADATA = 'ghostless:handler';

/** Key prefixes, e.g. `inputs/`; each grant covers `<prefix>*`. */
export interface BucketAccess {
  read?: readonly string[];
  write?: readonly string[];
  /** Writes that stream by multipart upload: they may abort their own uploads so that no parts stay billed. */
  streamed?: boolean;
  /** Multipart uploads the browser resumes: the function also lists their parts (and aborts a refused one). */
  resumable?: boolean;
}

export interface GhostlessFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'handler'> {
  /** File name under `lambdas/handlers/` without extension; it must export `handler`. */
  handlerFile: string;
  logRetention?: RetentionDays;
}

/** A Lambda with the project's defaults; `bind*` set the env var and the matching IAM grant together. */
export class GhostlessFunction extends NodejsFunction {
  readonly handlerFile: string;

  constructor(scope: Construct, id: string, { handlerFile, logRetention, ...props }: GhostlessFunctionProps) {
    // A log group of our own so retention and deletion follow the stack.
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Our own role instead of AWSLambdaBasicExecutionRole: it may write to this function's log group only.
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    super(scope, id, {
      // Latest Node.js runtime; the bundle targets node22 so the local stack (Node 20+) runs the same code.
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      ...props,
      entry: path.join(REPO_ROOT, 'lambdas', 'handlers', `${handlerFile}.ts`),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      logGroup,
      role,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        // Error names are how Step Functions matches Retry/Catch: minification must not rename classes.
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the SDK too: the runtime's copy lags behind the lock file (requestChecksumCalculation needs a recent one).
        externalModules: [],
        // CommonJS dependencies bundled into ESM still call require().
        banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        ...props.bundling,
      },
    });
    // Lets the local stack map this function (as the state machine references it) to the same handler file.
    (this.node.defaultChild as CfnResource).addMetadata(HANDLER_METADATA, handlerFile);
    this.handlerFile = handlerFile;
  }

  /** The table, with exactly the item actions and indexes this handler's code uses (see table-access.ts). */
  bindTable(table: ITable): this {
    const access = TABLE_ACCESS[this.handlerFile];
    if (!access) throw new Error(`No table access is declared for handler ${this.handlerFile} in table-access.ts`);
    this.addEnvironment(ENV.tableName, table.tableName);
    this.addToRolePolicy(
      new PolicyStatement({ actions: access.actions.map((action) => `dynamodb:${action}`), resources: [table.tableArn] }),
    );
    if (access.indexes.length > 0) {
      this.addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: access.indexes.map((index) => `${table.tableArn}/index/${index}`),
        }),
      );
    }
    return this;
  }

  /** Grants only s3:GetObject / s3:PutObject under the given prefixes: no delete, no tagging, no ACLs. */
  bindBucket(bucket: IBucket, { read = [], write = [], streamed = false, resumable = false }: BucketAccess): this {
    this.addEnvironment(ENV.bucketName, bucket.bucketName);
    const objects = (prefixes: readonly string[]) => prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`));
    if (read.length > 0) {
      this.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: objects(read) }));
      // Without ListBucket, S3 answers a read of a missing key with AccessDenied instead of NoSuchKey.
      // It must be unconditional: an s3:prefix condition never matches a GetObject request.
      this.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    }
    if (write.length > 0) {
      // PutObject also covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload.
      const actions = [
        's3:PutObject',
        ...(streamed || resumable ? ['s3:AbortMultipartUpload'] : []),
        ...(resumable ? ['s3:ListMultipartUploadParts'] : []),
      ];
      this.addToRolePolicy(new PolicyStatement({ actions, resources: objects(write) }));
    }
    for (const prefix of new Set([...read, ...write])) {
      acknowledgeWildcard(
        this.role ?? this,
        bucket.arnForObjects(`${prefix}*`),
        `Object keys under ${prefix} embed per-job ids unknown at deploy time; the grant stops at that prefix and at Get/PutObject (and listing or aborting its own multipart uploads).`,
      );
    }
    return this;
  }

  /** `states:*` actions on the executions of the jobs state machine: their names are job ids. */
  allowOnExecutions(actions: string[], executionsArn: string): this {
    this.addToRolePolicy(new PolicyStatement({ actions, resources: [executionsArn] }));
    acknowledgeWildcard(
      this.role ?? this,
      executionsArn,
      'Executions are named after job ids unknown at deploy time; the grant covers executions of the jobs state machine only.',
    );
    return this;
  }

  /** GetSecretValue (and DescribeSecret) on one secret; its ARN is already in the shared environment. */
  readsSecret(secret: ISecret): this {
    secret.grantRead(this);
    return this;
  }

  /** PostToConnection on a WebSocket API's connections (`endpoint` is its management URL, `connectionsArn` their ARN). */
  allowPushTo(endpoint: string, connectionsArn: string): this {
    this.addEnvironment(ENV.liveEndpoint, endpoint);
    this.addToRolePolicy(new PolicyStatement({ actions: ['execute-api:ManageConnections'], resources: [connectionsArn] }));
    acknowledgeWildcard(
      this.role ?? this,
      connectionsArn,
      'Connection ids are given by API Gateway at connect time; the grant covers posting to connections of the push API only.',
    );
    return this;
  }

  /** SendTaskSuccess/Failure for executions of the given state machine (an ARN string, to avoid a cycle). */
  allowTaskResponses(stateMachineArn: string): this {
    this.addToRolePolicy(
      new PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: [stateMachineArn] }),
    );
    return this;
  }
}
