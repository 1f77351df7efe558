/** The account and region every local ARN uses (same values as the synthesized template, see local/stepfunctions/template.ts). */
export interface AwsEnvironment {
  account: string;
  region: string;
}

export const LOCAL_ENVIRONMENT: AwsEnvironment = { account: '000000000000', region: 'us-east-1' };

/** The ARN a Lambda function's SDK calls are made as: STS names the session after the function. */
export function assumedRolePrincipal(roleName: string, sessionName: string, account = LOCAL_ENVIRONMENT.account): string {
  return `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`;
}
