import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalSecret {
  arn: string;
  name: string;
  value: string;
}

export interface SecretsManagerLocal {
  endpoint: string;
  stop(): Promise<void>;
}

const CREATED = Math.floor(Date.now() / 1000);

/**
 * The part of Secrets Manager the functions use: GetSecretValue (and DescribeSecret) by ARN or name, over its
 * JSON 1.1 protocol, answering as the service does. Authorization happens in front of it, in the IAM gateway.
 */
export async function startSecretsManagerLocal(secrets: LocalSecret[]): Promise<SecretsManagerLocal> {
  const versions = new Map(secrets.map((secret) => [secret.arn, randomUUID()]));
  const find = (id: unknown) => secrets.find((secret) => id === secret.arn || id === secret.name);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '');
      let input: { SecretId?: unknown };
      try {
        input = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      } catch {
        return reply(400, { __type: 'SerializationException', message: 'The request body is not valid JSON.' });
      }
      if (operation !== 'GetSecretValue' && operation !== 'DescribeSecret') {
        return reply(400, { __type: 'UnknownOperationException', message: `${operation} is not served locally` });
      }
      const secret = find(input.SecretId);
      if (!secret) return reply(400, { __type: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." });
      const common = { ARN: secret.arn, Name: secret.name, CreatedDate: CREATED };
      if (operation === 'DescribeSecret') return reply(200, common);
      return reply(200, { ...common, SecretString: secret.value, VersionId: versions.get(secret.arn), VersionStages: ['AWSCURRENT'] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Generated values for the named secrets, kept in `file` so that a restart finds the same ones; new names get new values. */
export function loadOrCreateSecretValues(file: string, names: string[]): Record<string, string> {
  const values: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const missing = names.filter((name) => !values[name]);
  for (const name of missing) values[name] = randomBytes(32).toString('base64url');
  if (missing.length > 0) writeFileSync(file, JSON.stringify(values), { mode: 0o600 });
  return values;
}
