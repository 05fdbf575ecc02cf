// veth pairs: IFLA_INFO_DATA { VETH_INFO_PEER: ifinfomsg + the peer's own IFLA_* }.
import { VETH_INFO_PEER, IFLA } from './constants';
import { ifinfomsg, LinkKindCodec, registerLinkKind, validateIfname } from './link';

export interface VethPeer {
  name: string;
  /** Create the peer directly in another netns (an open fd). */
  netnsFd?: number;
  mtu?: number;
}

export const vethCodec: LinkKindCodec<{ peer: VethPeer }> = {
  kind: 'veth',
  encode(w, spec) {
    const peer = spec.peer;
    validateIfname(peer?.name, 'peer.name');
    // The peer is a complete ifinfomsg + attributes inside the attribute, not a plain nest.
    w.nested(
      VETH_INFO_PEER,
      (p) => {
        p.header(ifinfomsg());
        p.string(IFLA.IFNAME, peer.name);
        if (peer.mtu !== undefined) p.u32(IFLA.MTU, peer.mtu);
        if (peer.netnsFd !== undefined) p.u32(IFLA.NET_NS_FD, peer.netnsFd);
      },
      false,
    );
  },
  decode: () => ({}),
};

registerLinkKind(vethCodec);
