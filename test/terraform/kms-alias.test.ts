// keysafe_kms_alias validates its name at plan time, reserved namespaces included.
import { describe, expect, it } from 'vitest';
import { kmsAlias } from '../../src/terraform/provider/resources/kms-alias.js';

const problems = (name: string) => kmsAlias.validate!({ name } as never);

describe('keysafe_kms_alias name', () => {
  it('accepts an ordinary alias', () => {
    expect(problems('alias/team/app')).toEqual([]);
    expect(problems('alias/keysafe-team')).toEqual([]);
  });

  it('refuses the reserved alias/aws/ and alias/keysafe/ namespaces at plan time', () => {
    for (const name of ['alias/aws/secretsmanager', 'alias/keysafe/sessions', 'alias/keysafe', 'alias/aws']) {
      expect(problems(name), name).toMatchObject([{ severity: 'error', path: ['name'] }]);
    }
  });
});
