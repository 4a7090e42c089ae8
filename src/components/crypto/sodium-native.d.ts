// The few libsodium calls the crypto components use (sodium-native ships no types; it is in the tree through hyperdht).
declare module "sodium-native" {
  type Bytes = Uint8Array;
  const sodium: {
    crypto_aead_chacha20poly1305_ietf_encrypt(out: Bytes, m: Bytes, ad: Bytes | null, nsec: null, npub: Bytes, k: Bytes): number;
    crypto_aead_chacha20poly1305_ietf_decrypt(out: Bytes, nsec: null, c: Bytes, ad: Bytes | null, npub: Bytes, k: Bytes): number;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out: Bytes, m: Bytes, ad: Bytes | null, nsec: null, npub: Bytes, k: Bytes): number;
    crypto_aead_xchacha20poly1305_ietf_decrypt(out: Bytes, nsec: null, c: Bytes, ad: Bytes | null, npub: Bytes, k: Bytes): number;
  };
  export default sodium;
}
