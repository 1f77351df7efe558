import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Admission } from './constructs/admission';
import { Api } from './constructs/api';
import { Auth } from './constructs/auth';
import { Storage } from './constructs/storage';

export interface GhostlessStackProps extends StackProps {
  /** Days inputs and outputs stay in S3 (default 7). */
  objectRetentionDays?: number;
  /** Days a terminal job stays in the table (default 30). */
  jobRetentionDays?: number;
}

export class GhostlessStack extends Stack {
  readonly storage: Storage;
  readonly auth: Auth;
  readonly admission: Admission;
  readonly api: Api;

  constructor(scope: Construct, id: string, props: GhostlessStackProps = {}) {
    super(scope, id, props);
    this.storage = new Storage(this, 'Storage', { objectRetentionDays: props.objectRetentionDays });
    this.auth = new Auth(this, 'Auth');
    this.admission = new Admission(this, 'Admission', {
      storage: this.storage,
      jobRetentionDays: props.jobRetentionDays,
    });
    this.api = new Api(this, 'Api', {
      handler: this.admission.apiFunction,
      userPool: this.auth.userPool,
      userPoolClient: this.auth.userPoolClient,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    new CfnOutput(this, 'BucketName', { value: this.storage.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.storage.table.tableName });
    new CfnOutput(this, 'UserPoolId', { value: this.auth.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.auth.userPoolClient.userPoolClientId });
  }
}
