// Stand-in for the `udx-native` package: the Bun module resolver maps `udx-native` here (see plugin.ts),
// so hyperswarm, hyperdht and dht-rpc `require('udx-native')` and get the TypeScript UDX class.
module.exports = require("./udx.ts").UDX;
