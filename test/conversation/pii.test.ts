// The PII scrubber: each kind Dapr's scrubber finds becomes its placeholder; ordinary numbers and dates stay.
import { expect, test } from "bun:test";
import { scrubPII } from "../../src/blocks/conversation/pii.js";

test.each([
  ["mail jane.doe@example.com now", "mail <EMAIL_ADDRESS> now"],
  ["card 4111 1111 1111 1111 ok", "card <CREDIT_CARD> ok"],
  ["ssn 123-45-6789", "ssn <SSN>"],
  ["see https://x.io/a?b=c now", "see <URL> now"],
  ["call +1 (555) 123-4567", "call <PHONE_NUMBER>"],
  ["from 192.168.1.20 and 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "from <IP> and <IP>"],
  ["version 1.2.3 and 2024-01-05 and order 12345", "version 1.2.3 and 2024-01-05 and order 12345"],
])("%s", (input, expected) => {
  expect(scrubPII(input)).toBe(expected);
});
