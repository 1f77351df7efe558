import { WorkflowConfigError } from '../lambdas/adapters/runninghub-workflows';
import { startLocalStack } from './local-stack';
import { LocalConfigError } from './provider-config';

/** `npm start`: the whole system on one machine. PORT (3000) and DATA_DIR (.local/) configure it. */
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got "${process.env.PORT}"`);
  process.exit(1);
}

let stack: Awaited<ReturnType<typeof startLocalStack>>;
try {
  stack = await startLocalStack({ port, dataDir: process.env.DATA_DIR || '.local' });
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  // A configuration the stack refuses: the sentence says what to set, a stack trace would only hide it.
  const refused = error instanceof LocalConfigError || error instanceof WorkflowConfigError;
  console.error(/EADDRINUSE/.test(message) ? `Port ${port} is in use: set PORT to another port.` : refused ? message : error);
  process.exit(1);
}
const { providerEndpoint } = stack;
console.log(
  providerEndpoint.bundled
    ? `Provider: the bundled RunningHub-compatible provider at ${providerEndpoint.url}`
    : `Provider: the RunningHub endpoint at ${providerEndpoint.url} (RUNNINGHUB_BASE_URL); no bundled provider started`,
);
console.log(`Ghostless local stack ready at ${stack.url}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1); // a second Ctrl-C: stop waiting
    stopping = true;
    stack.stop().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
