// What a job can say about this hypervisor: the node and its tenants. The same DTOs validate REST
// bodies and Bull job payloads (whitelist + forbidNonWhitelisted: unknown fields are errors).
import 'reflect-metadata';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsAbsentOr, IsIfname, IsIpAddr, IsIpPrefix, IsNested, IsNotLoopback, IsRoutedPrefix, IsUnicast } from './validators';

/**
 * Tenant ids become part of interface names ("vrf-<id>"): IFNAMSIZ leaves 11 characters. Not
 * "constructor", the one name of that form every JavaScript object has (state records are keyed by id).
 */
export const TENANT_ID_PATTERN = /^(?!constructor$)[a-z0-9][a-z0-9_-]{0,10}$/;
export const MAX_SIDS = 16;
export const MAX_ROUTES_PER_JOB = 100_000;

export const DECAP_BEHAVIOURS = ['End.DT4', 'End.DT6', 'End.DT46', 'End.DX4', 'End.DX6'] as const;
export type DecapBehaviour = (typeof DECAP_BEHAVIOURS)[number];
export const ENCAP_MODES = ['encap', 'encap.red'] as const;
export type EncapMode = (typeof ENCAP_MODES)[number];

export class NodeSpecDto {
  /** Underlay interfaces (the fabric side): seg6 enabled, XDP attach points. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(8)
  @IsIfname({ each: true })
  @IsNotLoopback('a fabric interface', { each: true })
  underlay!: string[];

  /** This HV's SRv6 locator; tenant SIDs are allocated from it. */
  @IsIpPrefix({ family: 6 })
  @IsRoutedPrefix()
  locator!: string;

  /** Outer source address of H.Encaps. */
  @IsIpAddr(6)
  @IsUnicast()
  encapSource!: string;

  @IsInt()
  @Min(1280)
  @Max(65535)
  underlayMtu!: number;
}

export class TenantInterfaceDto {
  /** A VM's tap/veth on this HV (it exists already; the agent configures it). */
  @IsIfname()
  name!: string;

  /** Gateway addresses of the tenant on this interface, "10.0.0.1/24", "fd00::1/64". */
  @IsArray()
  @ArrayMaxSize(16)
  @IsIpPrefix({ allowHostBits: true }, { each: true })
  @IsUnicast({ each: true })
  gateways!: string[];
}

export class RemoteRouteDto {
  /** A tenant prefix behind a remote HV. */
  @IsIpPrefix()
  prefix!: string;

  /** Usually one SID: the tenant's decap SID on the remote HV. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_SIDS)
  @IsIpAddr(6, { each: true })
  @IsUnicast({ each: true })
  sids!: string[];

  @IsAbsentOr()
  @IsIn(ENCAP_MODES)
  mode?: EncapMode;
}

export class DxTargetDto {
  /** The single VM's address the decapsulated packets go to. */
  @IsIpAddr()
  @IsUnicast()
  nexthop!: string;

  @IsIfname()
  interface!: string;
}

export class TenantSpecDto {
  @IsString()
  @Matches(TENANT_ID_PATTERN, { message: 'id must be 1..11 characters of a-z, 0-9, "_" or "-", starting with a letter or digit, and not "constructor"' })
  id!: string;

  /** Routing table; allocated (and kept across restarts) when not given. */
  @IsAbsentOr()
  @IsInt()
  @Min(1)
  @Max(0xffffffff)
  table?: number;

  @IsIn(DECAP_BEHAVIOURS)
  behaviour!: DecapBehaviour;

  /** Decap SID on this HV; allocated from the node's locator when not given. */
  @IsAbsentOr()
  @IsIpAddr(6)
  sid?: string;

  /** End.DX4/End.DX6 only: the VM to cross-connect to. */
  @IsAbsentOr()
  @IsNested(() => DxTargetDto)
  dx?: DxTargetDto;

  @IsArray()
  @ArrayMaxSize(256)
  @IsNested(() => TenantInterfaceDto, { each: true })
  interfaces!: TenantInterfaceDto[];

  @IsArray()
  @ArrayMaxSize(MAX_ROUTES_PER_JOB)
  @IsNested(() => RemoteRouteDto, { each: true })
  routes!: RemoteRouteDto[];

  @IsAbsentOr()
  @IsBoolean()
  xdpOffload?: boolean;

  @IsAbsentOr()
  @IsString()
  @MaxLength(200)
  description?: string;
}
