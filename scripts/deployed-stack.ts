import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** A deployed stack's outputs and parameters (`npm run deploy` names it Ghostless), read once. */
export interface DeployedStack {
  output(key: string): string | undefined;
  parameter(key: string): string | undefined;
}

export async function deployedStack(stackName: string, client = new CloudFormationClient({})): Promise<DeployedStack> {
  try {
    const { Stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks[0];
    if (!stack) throw new Error(`Stack ${stackName} is not deployed in this account and region`);
    return {
      output: (key) => stack.Outputs?.find((o) => o.OutputKey === key)?.OutputValue,
      parameter: (key) => stack.Parameters?.find((p) => p.ParameterKey === key)?.ParameterValue,
    };
  } finally {
    client.destroy();
  }
}
