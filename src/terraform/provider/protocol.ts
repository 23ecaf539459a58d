// Loads the plugin protocol from the .proto files in ./proto (the tfplugin6.8 messages and RPCs the provider
// serves, go-plugin's controller/stdio/broker services, the gRPC health check) with @grpc/proto-loader.
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** The protocol files, in ./proto next to this module (copied into dist/ by the build, beside the bundle by install). */
export const PROTO_FILES = ['tfplugin6.proto', 'go-plugin.proto', 'health.proto'] as const;

// snake_case field names as in the .proto (the handlers read `type_name`, `prior_state`…), numbers for
// int64s and enums, every field present in a decoded request.
export const LOAD_OPTIONS: Options = { keepCase: true, longs: Number, enums: Number, defaults: true, oneofs: true };

/** The directory holding PROTO_FILES; `import.meta.url` is defined by the install's bundle too. */
export function protoDir(): string {
  return fileURLToPath(new URL('./proto/', import.meta.url));
}

export function loadProtocol(): PackageDefinition {
  return loadSync([...PROTO_FILES], { ...LOAD_OPTIONS, includeDirs: [protoDir()] });
}
