import { Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeCdkHandler } from '../nag';

export interface SpaOriginCorsProps {
  bucket: IBucket;
  /** The SPA's origins, e.g. `https://d123.cloudfront.net` (tokens allowed). */
  origins: string[];
}

/**
 * Limits the media bucket's CORS to the SPA's origins. The CloudFront domain is only known once the
 * distribution exists, and the distribution (through the API and its functions) already depends on the
 * bucket, so the rule cannot be a property of the bucket: it is written after both exist.
 */
export class SpaOriginCors extends Construct {
  constructor(scope: Construct, id: string, { bucket, origins }: SpaOriginCorsProps) {
    super(scope, id);
    const putCors = {
      service: 'S3',
      action: 'putBucketCors',
      parameters: {
        Bucket: bucket.bucketName,
        CORSConfiguration: {
          CORSRules: [
            {
              // Presigned POST uploads, presigned part PUTs of resumable uploads and presigned GETs of results.
              AllowedMethods: ['POST', 'PUT', 'GET', 'HEAD'],
              AllowedOrigins: origins,
              AllowedHeaders: ['*'],
              // A part's ETag, so the browser can tell which parts S3 took.
              ExposeHeaders: ['ETag'],
              MaxAgeSeconds: 3600,
            },
          ],
        },
      },
      physicalResourceId: PhysicalResourceId.of(`${bucket.bucketName}-cors`),
    };
    new AwsCustomResource(this, 'PutBucketCors', {
      onCreate: putCors,
      onUpdate: putCors,
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({ actions: ['s3:PutBucketCORS'], resources: [bucket.bucketArn] }),
      ]),
      installLatestAwsSdk: false,
    });
    // The provider is a CDK singleton at stack level.
    const provider = Stack.of(this).node.tryFindChild(`AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`);
    if (provider)
      acknowledgeCdkHandler(provider, "AwsCustomResource writes the media bucket's CORS rule (s3:PutBucketCORS on that bucket only)");
  }
}
