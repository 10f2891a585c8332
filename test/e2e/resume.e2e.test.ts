import { itResumesAfterKills } from '../support/itResumesAfterKills';

const MiB = 1024 * 1024;

// Too slow for every `npm test` (1 GiB written, read and hashed several times per cloud); test/resume.test.ts
// runs the same scenario on 96 MiB. Each cloud's default chunk: what a user's runs send.
itResumesAfterKills(1024 * MiB, 4, { drive: 8 * MiB, dropbox: 8 * MiB, onedrive: 32 * 327_680, s3: 8 * MiB, nextcloud: 10 * MiB });
