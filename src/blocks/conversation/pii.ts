// PII scrubbing for ScrubPII: what Dapr's scrubber finds, replaced by its placeholders. Card numbers and SSNs go
// before phone numbers, whose pattern would otherwise take their digits.
const PATTERNS: [RegExp, string][] = [
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, "<EMAIL_ADDRESS>"],
  [/\bhttps?:\/\/[^\s<>"']+/g, "<URL>"],
  [/\b(?:\d[ -]?){12,18}\d\b/g, "<CREDIT_CARD>"],
  [/\b\d{3}-\d{2}-\d{4}\b/g, "<SSN>"],
  [/\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b/g, "<IP>"],
  [/\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b/gi, "<IP>"],
  [/(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\b\d{3})[ .-]?\d{3}[ .-]?\d{4}\b/g, "<PHONE_NUMBER>"],
];

export function scrubPII(text: string): string {
  return PATTERNS.reduce((s, [re, placeholder]) => s.replace(re, placeholder), text);
}
