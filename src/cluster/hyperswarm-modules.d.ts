// hyperswarm and friends ship plain JavaScript without typings; src/cluster/discovery wraps what it uses.
declare module "hyperswarm";
declare module "hyperdht";
declare module "@hyperswarm/testnet";
declare module "hyperdht/lib/holepuncher.js";
