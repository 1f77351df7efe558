import path from 'node:path';
import { type CfnResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const HANDLER_METADATA = 'ghostless:handler';

/** Key prefixes, e.g. `inputs/`; each grant covers `<prefix>*`. */
export interface BucketAccess {
  read?: readonly string[];
  write?: readonly string[];
}

export interface GhostlessFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'handler'> {
  /** File name under `lambdas/handlers/` without extension; it must export `handler`. */
  handlerFile: string;
  logRetention?: RetentionDays;
}

/** A Lambda with the project's defaults; `bind*` set the env var and the matching IAM grant together. */
export class GhostlessFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, { handlerFile, logRetention, ...props }: GhostlessFunctionProps) {
    super(scope, id, {
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      ...props,
      entry: path.join(REPO_ROOT, 'lambdas', 'handlers', `${handlerFile}.ts`),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      // A log group of our own so retention and deletion follow the stack.
      logGroup: new LogGroup(scope, `${id}Logs`, {
        retention: logRetention ?? RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
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
  }

  bindTable(table: ITable, mode: 'read' | 'readWrite'): this {
    this.addEnvironment('TABLE_NAME', table.tableName);
    if (mode === 'read') table.grantReadData(this);
    else table.grantReadWriteData(this);
    return this;
  }

  /** Grants only s3:GetObject / s3:PutObject under the given prefixes: no delete, no tagging, no ACLs. */
  bindBucket(bucket: IBucket, { read = [], write = [] }: BucketAccess): this {
    this.addEnvironment('BUCKET_NAME', bucket.bucketName);
    const objects = (prefixes: readonly string[]) => prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`));
    if (read.length > 0) {
      this.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: objects(read) }));
      // Without ListBucket, S3 answers a read of a missing key with AccessDenied instead of NoSuchKey.
      // It must be unconditional: an s3:prefix condition never matches a GetObject request.
      this.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    }
    if (write.length > 0) {
      this.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: objects(write) }));
    }
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
