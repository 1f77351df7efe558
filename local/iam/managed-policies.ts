import type { PolicyDocument } from './policies';

/**
 * Copies of the AWS-managed policies the app attaches, as AWS documents them (AWS Managed Policy Reference).
 * A template that attaches any other AWS-managed policy fails extraction instead of silently losing grants.
 */
const AWS_MANAGED: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
  },
};

/** `arn:aws:iam::aws:policy/<path/name>` → the policy's document, or undefined when it is not AWS-managed or not known here. */
export function awsManagedPolicy(arn: string): PolicyDocument | undefined {
  const match = /^arn:aws[\w-]*:iam::aws:policy\/(.+)$/.exec(arn);
  return match ? AWS_MANAGED[match[1] as string] : undefined;
}

export const isAwsManagedPolicyArn = (arn: string): boolean => /^arn:aws[\w-]*:iam::aws:policy\//.test(arn);
