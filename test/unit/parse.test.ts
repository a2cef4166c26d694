import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { masterNameOfEvent, parseMastersReply, parsePeersReply, parsePromotedReplica, parseSwitchMaster } from '../../src/sentinel/parse.js';

describe('sentinel message parsers', () => {
  it('parses +switch-master payloads as the original did', () => {
    assert.deepEqual(parseSwitchMaster('name 1.1.1.1 1234 2.2.2.2 5678'), { name: 'name', oldIp: '1.1.1.1', oldPort: 1234, newIp: '2.2.2.2', newPort: 5678 });
    assert.deepEqual(parseSwitchMaster('c ::1 6379 ::1 6380')?.newIp, '::1');
    for (const bad of ['rubbish', 'name 1.1.1.1 1234 2.2.2.2 rubbish', 'name 1.1.1.1 rubbish 2.2.2.2 5566', 'name rubbish 2.2.2.2 5566', 'n a 1 b 99999', ''])
      assert.equal(parseSwitchMaster(bad), null, bad);
  });

  it('parses +promoted-slave payloads: the replica to probe early, and its cluster', () => {
    // As Redis 7.0's sentinel sends it (bench/README.md: 75-78 ms before +switch-master).
    assert.deepEqual(parsePromotedReplica('slave 127.0.0.1:28991 127.0.0.1 28991 @ testing 127.0.0.1 31162'), { name: 'testing', ip: '127.0.0.1', port: 28991 });
    assert.deepEqual(parsePromotedReplica('slave [::1]:6380 ::1 6380 @ c ::1 6379'), { name: 'c', ip: '::1', port: 6380 });
    for (const bad of ['', 'rubbish', 'master mymaster 127.0.0.1 6379 #quorum 2/2', 'slave 1.1.1.1:1 1.1.1.1 x @ c 2.2.2.2 2', 'slave 1.1.1.1:1 1.1.1.1 1 c 2.2.2.2 2 x', 'sentinel 1.1.1.1:1 1.1.1.1 1 @ c 2.2.2.2 2'])
      assert.equal(parsePromotedReplica(bad), null, bad);
  });

  it('finds the master name of instance events', () => {
    assert.equal(masterNameOfEvent('master mymaster 127.0.0.1 6379 #quorum 2/2'), 'mymaster');
    assert.equal(masterNameOfEvent('slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379'), 'mymaster');
    assert.equal(masterNameOfEvent('garbage'), null);
  });

  it('parses SENTINEL MASTERS and SENTINELS replies, counting malformed elements', () => {
    const reply = [
      ['name', 'a', 'ip', '10.0.0.1', 'port', '6379', 'flags', 'master', 'config-epoch', '3'],
      ['name', 'b', 'ip', '10.0.0.2'],
      'junk',
    ];
    const parsed = parseMastersReply(reply);
    assert.deepEqual(parsed?.views, [{ name: 'a', ip: '10.0.0.1', port: 6379, configEpoch: 3, flags: ['master'] }]);
    assert.equal(parsed?.malformed, 2);
    assert.equal(parseMastersReply('ERR'), null);
    assert.deepEqual(parsePeersReply([['ip', '127.0.0.1', 'port', '26380'], ['ip', 'x']]), [{ host: '127.0.0.1', port: 26380, id: null }]);
    assert.deepEqual(parsePeersReply([['name', '127.0.0.1:26381', 'ip', '127.0.0.1', 'port', '26381', 'runid', 'ab12']]), [{ host: '127.0.0.1', port: 26381, id: 'ab12' }]);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), fc.string(), (any, str) => {
        parseMastersReply(any);
        parsePeersReply(any);
        parseSwitchMaster(str);
        masterNameOfEvent(str);
        return true;
      }),
      { seed: 7, numRuns: 3000 },
    );
  });
});
