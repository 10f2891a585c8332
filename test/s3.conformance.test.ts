import { runProviderConformance } from './conformance/suite';
import { s3Provider, startS3Server, type S3TestServer } from './support/s3';

/** The conformance suite against a real S3 server (s3rver 3.7.1, an HTTP server on disk) on loopback; each test in a prefix of its own. */
let server: S3TestServer;
let run = 0;

beforeAll(async () => {
	server = await startS3Server();
});
afterAll(async () => {
	await server?.stop();
});

runProviderConformance('S3 (s3rver)', async () => {
	const provider = await s3Provider(server.connection, { prefix: `conformance/run-${++run}` });
	return { provider, cleanup: async () => undefined };
});
