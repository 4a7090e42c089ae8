// The built-in plugins, compiled into the binary.
import type { ComponentPlugin } from "../src/components/plugin.js";
import secretstoresLocalEnv from "./secretstores.local.env/index.js";
import secretstoresLocalFile from "./secretstores.local.file/index.js";
import pubsubInMemory from "./pubsub.in-memory/index.js";
import pubsubNats from "./pubsub.nats/index.js";
import pubsubMqtt3 from "./pubsub.mqtt3/index.js";
import pubsubRedis from "./pubsub.redis/index.js";
import stateInMemory from "./state.in-memory/index.js";
import statePostgresql from "./state.postgresql/index.js";
import stateSqlite from "./state.sqlite/index.js";
import stateRedis from "./state.redis/index.js";
import nameresolutionLocal from "./nameresolution.local/index.js";
import nameresolutionStatic from "./nameresolution.static/index.js";
import nameresolutionMdns from "./nameresolution.mdns/index.js";
import bindingsCron from "./bindings.cron/index.js";
import bindingsHttp from "./bindings.http/index.js";
import bindingsLocalstorage from "./bindings.localstorage/index.js";
import bindingsMqtt3 from "./bindings.mqtt3/index.js";
import bindingsPostgresql, { bindingsPostgresAlias } from "./bindings.postgresql/index.js";
import bindingsRedis from "./bindings.redis/index.js";
import cryptoDaprLocalstorage from "./crypto.dapr.localstorage/index.js";
import cryptoDaprJwks from "./crypto.dapr.jwks/index.js";
import lockSqlite from "./lock.sqlite/index.js";
import lockRedis from "./lock.redis/index.js";
import lockPostgresql from "./lock.postgresql/index.js";
import configurationLocalFile from "./configuration.local.file/index.js";
import configurationRedis from "./configuration.redis/index.js";
import configurationPostgresql from "./configuration.postgresql/index.js";
import conversationEcho from "./conversation.echo/index.js";
import conversationOpenai from "./conversation.openai/index.js";

export const builtinPlugins: ComponentPlugin<any, any>[] = [
  stateInMemory,
  stateSqlite,
  statePostgresql,
  stateRedis,
  secretstoresLocalEnv,
  secretstoresLocalFile,
  pubsubInMemory,
  pubsubNats,
  pubsubMqtt3,
  pubsubRedis,
  nameresolutionLocal,
  nameresolutionStatic,
  nameresolutionMdns,
  bindingsCron,
  bindingsHttp,
  bindingsLocalstorage,
  bindingsMqtt3,
  bindingsPostgresql,
  bindingsPostgresAlias,
  bindingsRedis,
  cryptoDaprLocalstorage,
  cryptoDaprJwks,
  lockSqlite,
  lockRedis,
  lockPostgresql,
  configurationLocalFile,
  configurationRedis,
  configurationPostgresql,
  conversationEcho,
  conversationOpenai,
];
