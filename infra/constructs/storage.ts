import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../../lambdas/adapters/table-schema';
import { ADMITTED_PREFIX } from '../../lambdas/domain/jobs';

export const INPUTS_PREFIX = 'inputs/';
export const OUTPUTS_PREFIX = 'outputs/';
export { ADMITTED_PREFIX };

export interface StorageProps {
  /** Days before inputs and outputs are deleted, finished or orphaned alike. */
  objectRetentionDays?: number;
  /** Where the bucket's server access logs go. */
  accessLogs: IBucket;
}

/** The jobs table and the media bucket. */
export class Storage extends Construct {
  readonly table: Table;
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, { objectRetentionDays = 7, accessLogs }: StorageProps) {
    super(scope, id);

    const key = (name: string) => ({ name, type: AttributeType.STRING });
    this.table = new Table(this, 'Table', {
      partitionKey: key(TABLE_SCHEMA.partitionKey),
      sortKey: key(TABLE_SCHEMA.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      // Credits and job history must survive a stack deletion.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.byUserIndex.name,
      partitionKey: key(TABLE_SCHEMA.byUserIndex.partitionKey),
      sortKey: key(TABLE_SCHEMA.byUserIndex.sortKey),
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.liveIndex.name,
      partitionKey: key(TABLE_SCHEMA.liveIndex.partitionKey),
      sortKey: key(TABLE_SCHEMA.liveIndex.sortKey),
    });

    const expiry = Duration.days(objectRetentionDays);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 's3/media/',
      // CORS (the SPA's origin only) is set by SpaOriginCors once the CloudFront domain exists.
      lifecycleRules: [
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // Also removes the orphans of uploads that never became a job.
        { id: 'expire-inputs', prefix: INPUTS_PREFIX, expiration: expiry },
        { id: 'expire-outputs', prefix: OUTPUTS_PREFIX, expiration: expiry },
        { id: 'expire-admitted', prefix: ADMITTED_PREFIX, expiration: expiry },
      ],
    });
  }
}
