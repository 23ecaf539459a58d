// KMS alias operations: create, update, delete and list aliases, never the reserved ones.
import { z } from 'zod';
import { operation } from '../../core/operation.js';
import { decodeMarker, epochSeconds } from '../../core/wire.js';
import { type KmsEngine, refuseAliasTarget, validateAliasName } from '../engine.js';
import {
  aliasName,
  anyResource,
  type KmsOperation,
  key,
  keyId,
  limit,
  marker,
  mayDescribe,
  truncation,
} from './shapes.js';

const CreateAliasInput = z.object({ AliasName: aliasName, TargetKeyId: keyId });
const UpdateAliasInput = z.object({ AliasName: aliasName, TargetKeyId: keyId });
const DeleteAliasInput = z.object({ AliasName: aliasName });
const ListAliasesInput = z.object({ KeyId: keyId.optional(), Limit: limit, Marker: marker });

/** AWS's checks of an alias name and its target, before any authorization: they reveal nothing. */
const validateNameAndTarget = (i: { AliasName: string; TargetKeyId: string }): void => {
  validateAliasName(i.AliasName);
  refuseAliasTarget(i.TargetKeyId);
};

/** A handler that answers `{}` once the engine call is done. */
const done =
  <I>(call: (engine: KmsEngine, i: I) => Promise<unknown>) =>
  async (engine: KmsEngine, i: I): Promise<object> => {
    await call(engine, i);
    return {};
  };

export const aliasOperations: Record<string, KmsOperation> = {
  // AWS: CreateAlias needs kms:CreateAlias on the alias and on the key; UpdateAlias on the alias,
  // the key it points at now and the new key; DeleteAlias on the alias and its key.
  CreateAlias: operation({
    input: CreateAliasInput,
    validate: validateNameAndTarget,
    resources: (i) => [
      { kind: 'alias', action: 'kms:CreateAlias', alias: i.AliasName },
      key('kms:CreateAlias', i.TargetKeyId),
    ],
    run: done((engine, i) => engine.createAlias(i.AliasName, i.TargetKeyId)),
  }),

  UpdateAlias: operation({
    input: UpdateAliasInput,
    validate: validateNameAndTarget,
    resources: (i) => [
      { kind: 'alias', action: 'kms:UpdateAlias', alias: i.AliasName },
      { kind: 'alias-target', action: 'kms:UpdateAlias', alias: i.AliasName },
      key('kms:UpdateAlias', i.TargetKeyId),
    ],
    run: done((engine, i) => engine.updateAlias(i.AliasName, i.TargetKeyId)),
  }),

  DeleteAlias: operation({
    input: DeleteAliasInput,
    validate: (i) => validateAliasName(i.AliasName),
    resources: (i) => [
      { kind: 'alias', action: 'kms:DeleteAlias', alias: i.AliasName },
      { kind: 'alias-target', action: 'kms:DeleteAlias', alias: i.AliasName },
    ],
    run: done((engine, i) => engine.deleteAlias(i.AliasName)),
  }),

  ListAliases: operation({
    input: ListAliasesInput,
    resources: () => [anyResource('kms:ListAliases')],
    async run(engine: KmsEngine, i, access) {
      const { items, next } = await engine.listAliases(i.Limit ?? 50, decodeMarker(i.Marker), i.KeyId);
      return {
        Aliases: (await mayDescribe(access, items, (a) => a.keyId)).map((a) => ({
          AliasName: a.name,
          AliasArn: `arn:aws:kms:${engine.partition.region}:${engine.partition.accountId}:${a.name}`,
          TargetKeyId: a.keyId,
          CreationDate: epochSeconds(a.createdAt),
          LastUpdatedDate: epochSeconds(a.updatedAt),
        })),
        ...truncation(next),
      };
    },
  }),
};
