/**
 * The repository RPCs: RepositoryIndex / RepositoryModelLoad / RepositoryModelUnload, served both on
 * inference.GRPCInferenceService (as Triton and MLServer's dataplane.proto define them) and on MLServer's
 * inference.model_repository.ModelRepositoryService; the messages are wire-identical.
 */
import type { ServerContext } from '../context.js';

type Obj = Record<string, any>;

export function repositoryRpcs(ctx: ServerContext): Record<string, (r: Obj) => Obj | Promise<Obj>> {
  return {
    RepositoryIndex: (r) => {
      const rows = ctx.plane.index();
      return { models: (r.ready ? rows.filter((m) => m.state === 'READY') : rows).map((m) => ({ name: m.name, version: m.version ?? '', state: m.state, reason: m.reason })) };
    },
    RepositoryModelLoad: async (r) => {
      await ctx.plane.loadModel(r.model_name ?? '');
      return {};
    },
    RepositoryModelUnload: async (r) => {
      await ctx.plane.unloadModel(r.model_name ?? '');
      return {};
    },
  };
}
