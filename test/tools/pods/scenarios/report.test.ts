// The scenarios' judgement of the acknowledged writes: a key that could not be read back is not a pass.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writesHeld } from "../../../../tools/pods/scenarios/report";

const none = { wait: 0, plain: 0, ackedWait: 100, ackedPlain: 100, unreadable: 0 };

test("every acknowledged key read back: the writes held", () => {
  assert.equal(writesHeld(none), true);
  assert.equal(writesHeld({ ...none, unreadable: undefined }), true);
});

test("an acknowledged key that no read could reach fails the scenario", () => {
  assert.equal(writesHeld({ ...none, unreadable: 1 }), false);
  assert.equal(writesHeld({ ...none, unreadable: 3 }, { plain: true }), false);
});

test("a lost WAIT write always fails; a lost plain write only where plain writes must hold too", () => {
  assert.equal(writesHeld({ ...none, wait: 1 }), false);
  assert.equal(writesHeld({ ...none, plain: 2 }), true);
  assert.equal(writesHeld({ ...none, plain: 2 }, { plain: true }), false);
});
