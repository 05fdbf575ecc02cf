// VRF devices: IFLA_INFO_DATA { IFLA_VRF_TABLE u32 }. Needs CONFIG_NET_VRF.
import { IFLA_VRF_TABLE } from './constants';
import { InvalidArgumentError } from './errors';
import { LinkKindCodec, registerLinkKind } from './link';
import { validateTable } from './validate';

export const vrfCodec: LinkKindCodec<{ table: number }> = {
  kind: 'vrf',
  encode(w, spec) {
    if (spec.table === undefined) throw new InvalidArgumentError('table', 'a VRF needs a routing table id');
    w.u32(IFLA_VRF_TABLE, validateTable(spec.table, 'table'));
  },
  decode: (data) => {
    const table = data.u32(IFLA_VRF_TABLE);
    return table === undefined ? {} : { table };
  },
};

registerLinkKind(vrfCodec);
