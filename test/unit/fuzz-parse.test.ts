import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fieldsToRecord, masterNameOfEvent, parseMasterRecord, parseMastersReply, parsePeersReply, parseSwitchMaster } from '../../src/sentinel/parse.js';
import { chooseMaster, isPlaceholder } from '../../src/sentinel/confirm.js';

/**
 * Property-based tests (fast-check, fixed seeds, bounded runs) of what sentinels send: the
 * `+switch-master` payload and the SENTINEL MASTERS / MASTER / SENTINELS replies. Whatever
 * arrives, the parsers return null (or count it malformed) or a value that is safe to use; they
 * never throw. (test/unit/parse.test.ts has the examples and a basic never-throws check.)
 */

const word = fc.stringMatching(/^[^\s]{1,20}$/);
const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('0.0.0.0', '::', 'localhost', 'redis-1.example'));
const port = fc.integer({ min: 0, max: 65535 });
/** Strings that look like numbers and are not quite. */
const numberish = fc.oneof(
  fc.integer({ min: -70000, max: 140000 }).map(String),
  fc.constantFrom('', ' ', '-0', '+1', '1e3', '0x10', '6379.0', '65536', '99999', '007', '६३७९', 'NaN', 'Infinity', '1'.repeat(400), ' 6379', '6379 '),
);
/** What a RESP reply can turn into in ioredis: strings, Buffers, integers, null, nested arrays. */
const respValue = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string({ maxLength: 30 }), word, numberish, fc.integer(), fc.constant(null), fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a))),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 12 })),
})).node;
/** A SENTINEL MASTERS element with plausible keys and arbitrary values (some keys missing, some repeated). */
const masterish = fc
  .array(fc.tuple(fc.constantFrom('name', 'ip', 'port', 'flags', 'config-epoch', 'num-slaves', 'quorum', 'runid'), fc.oneof(word, numberish, fc.constantFrom('master', 's_down,o_down,master', 'failover_in_progress', ''))), { maxLength: 12 })
  .map((pairs) => pairs.flat());

const checkView = (v: { name: string; ip: string; port: number; configEpoch: number; flags: string[] }) => {
  assert.ok(v.name.length > 0, 'view without a name');
  assert.equal(typeof v.ip, 'string');
  assert.ok(Number.isInteger(v.port) && v.port >= 0 && v.port <= 65535, `port ${v.port}`);
  // A whole number that cannot overflow to Infinity (it would outrank every real view).
  assert.ok(Number.isSafeInteger(v.configEpoch) && v.configEpoch >= 0, `config-epoch ${v.configEpoch}`);
  for (const f of v.flags) assert.ok(f.length > 0 && !f.includes(','), `flag ${JSON.stringify(f)}`);
};

describe('sentinel reply parsers under arbitrary input (fast-check, fixed seeds)', () => {
  it('+switch-master: well-formed payloads round-trip, with any surrounding whitespace', () => {
    fc.assert(
      fc.property(word, ip, port, ip, port, fc.constantFrom('', ' ', '\n', '\r\n'), (name, oldIp, oldPort, newIp, newPort, ws) => {
        assert.deepEqual(parseSwitchMaster(`${ws}${name} ${oldIp} ${oldPort} ${newIp} ${newPort}${ws}`), { name, oldIp, oldPort, newIp, newPort });
      }),
      { seed: 101, numRuns: 2000 },
    );
  });

  it('+switch-master: any payload gives null or an event whose ports are real ports and that re-serialises to itself', () => {
    const mutated = fc.tuple(fc.array(fc.oneof(word, numberish, ip.map(String), fc.string({ maxLength: 8 })), { minLength: 0, maxLength: 7 }), fc.constantFrom(' ', '  ', '\t')).map(([parts, sep]) => parts.join(sep));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 }), mutated), (payload) => {
        const ev = parseSwitchMaster(payload);
        if (ev === null) return;
        for (const p of [ev.oldPort, ev.newPort]) assert.ok(Number.isInteger(p) && p >= 0 && p <= 65535, `port ${p} from ${JSON.stringify(payload)}`);
        for (const s of [ev.name, ev.oldIp, ev.newIp]) assert.ok(s.length > 0 && !s.includes(' '));
        assert.deepEqual(parseSwitchMaster(`${ev.name} ${ev.oldIp} ${ev.oldPort} ${ev.newIp} ${ev.newPort}`), ev);
      }),
      { seed: 102, numRuns: 5000 },
    );
  });

  it('instance events: the master name is null or one word', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(fc.oneof(word, fc.constant('@'), fc.constant('master')), { maxLength: 9 }).map((p) => p.join(' '))), (payload) => {
        const name = masterNameOfEvent(payload);
        if (name !== null) assert.ok(name.length > 0 && !name.includes(' '), JSON.stringify(name));
      }),
      { seed: 103, numRuns: 5000 },
    );
  });

  it('SENTINEL MASTERS: any reply shape gives null (not an array) or one view or one malformed count per element', () => {
    fc.assert(
      fc.property(fc.oneof(respValue, fc.array(fc.oneof(masterish, respValue), { maxLength: 6 })), (reply) => {
        const parsed = parseMastersReply(reply);
        if (!Array.isArray(reply)) return assert.equal(parsed, null);
        assert.ok(parsed);
        assert.equal(parsed.views.length + parsed.malformed, reply.length);
        parsed.views.forEach(checkView);
      }),
      { seed: 104, numRuns: 4000 },
    );
  });

  it('SENTINEL MASTER: well-formed records round-trip, values as strings or Buffers', () => {
    fc.assert(
      fc.property(word, ip, port, fc.integer({ min: 0, max: 2 ** 40 }), fc.subarray(['master', 's_down', 'o_down', 'failover_in_progress', 'disconnected']), fc.boolean(), (name, addr, p, epoch, flags, asBuffers) => {
        const fields = ['name', name, 'ip', addr, 'port', String(p), 'flags', flags.join(','), 'config-epoch', String(epoch), 'num-other-sentinels', '2'];
        const rec = fieldsToRecord(asBuffers ? fields.map((f) => Buffer.from(f)) : fields);
        assert.ok(rec);
        assert.deepEqual(parseMasterRecord(rec), { name, ip: addr, port: p, configEpoch: epoch, flags });
      }),
      { seed: 105, numRuns: 2000 },
    );
  });

  it('flat records: an odd number of fields or a non-string key is rejected, nested values skipped', () => {
    fc.assert(
      fc.property(respValue, (reply) => {
        const rec = fieldsToRecord(reply);
        if (!Array.isArray(reply) || reply.length % 2 !== 0) return assert.equal(rec, null);
        if (rec) for (const v of Object.values(rec)) assert.equal(typeof v, 'string');
      }),
      { seed: 106, numRuns: 4000 },
    );
  });

  it('SENTINEL SENTINELS: every peer has a host and a port 1-65535', () => {
    const peerish = fc.array(fc.tuple(fc.constantFrom('ip', 'port', 'name', 'flags'), fc.oneof(word, numberish, ip.map(String))), { maxLength: 6 }).map((p) => p.flat());
    fc.assert(
      fc.property(fc.oneof(respValue, fc.array(fc.oneof(peerish, respValue), { maxLength: 6 })), (reply) => {
        const peers = parsePeersReply(reply);
        if (!Array.isArray(reply)) return assert.equal(peers, null);
        for (const p of peers ?? []) {
          assert.ok(p.host.length > 0);
          assert.ok(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535, `port ${p.port}`);
        }
      }),
      { seed: 107, numRuns: 4000 },
    );
  });

  it('replies → views → confirm rule: never a placeholder candidate, never an epoch below the confirmed one', () => {
    const sentinelReply = fc.array(fc.oneof(masterish, respValue), { maxLength: 3 });
    fc.assert(
      fc.property(fc.array(sentinelReply, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 3 }), (replies, minEpoch, quorum) => {
        const views = replies.flatMap((reply, i) => (parseMastersReply(reply)?.views ?? []).map((v) => ({ sentinel: `s${i}`, ip: v.ip, port: v.port, configEpoch: v.configEpoch, flags: v.flags })));
        const d = chooseMaster(views, { quorum, minEpoch });
        if (d.kind === 'none') return assert.ok(d.reason.length > 0);
        assert.ok(!isPlaceholder(d.master.ip, d.master.port), `placeholder ${d.master.ip}:${d.master.port} chosen`);
        assert.ok(d.kind === 'below-floor' ? d.configEpoch < minEpoch : d.configEpoch >= minEpoch);
        assert.ok(d.agreeing.length >= quorum);
      }),
      { seed: 108, numRuns: 3000 },
    );
  });

  // Regression: "1" followed by 400 zeros once parsed as Infinity and froze failover handling.
  it('config-epoch beyond 2^53 is rejected as malformed', () => {
    for (const epoch of ['1' + '0'.repeat(400), '1'.repeat(400), '9007199254740993', '99999999999999999999']) {
      const v = parseMasterRecord({ name: 'c', ip: '10.0.0.1', port: '6379', 'config-epoch': epoch, flags: 'master' });
      assert.equal(v, null, `config-epoch ${epoch.slice(0, 24)}… parsed as ${v?.configEpoch}`);
    }
    // A large safe epoch is still accepted, so the check above is about the bound, not digits.
    const ok = parseMasterRecord({ name: 'c', ip: '10.0.0.1', port: '6379', 'config-epoch': '999999999999999', flags: 'master' });
    assert.equal(ok?.configEpoch, 999_999_999_999_999);
  });
});
