package import DurinCore

/// A token's last use (`w`, epoch ms) and its client's idle timeout (`d`, seconds),
/// the two fields that make idle timeouts work without a write on every check.
///
/// A check writes `w` only when it is older than the write interval: the resolution
/// (DURIN_LAST_USED_RESOLUTION), or a quarter of the idle timeout when that is
/// shorter. So `w` may lag the true last use by up to that interval, and a token is
/// idle only once unused for longer than its timeout plus the interval: never early,
/// and at most a quarter of its timeout late. The same rules exist as Lua (`lua`)
/// for the scripts; both are tested against each other (LastUseTests).
package enum LastUse {
    /// How stale `w` may get before a check writes it; nil: checks never write it.
    package static func writeInterval(resolution: Int64?, idleSeconds: Int64?) -> Int64? {
        guard let resolution else { return nil }
        guard let idleSeconds else { return resolution }
        return max(1, min(resolution, idleSeconds * 250))
    }

    /// Whether a token unused since `lastUsed` has passed its idle timeout. A token
    /// never used (no `w`: not checked since it was made, or made by a path that
    /// writes none, as an import did) counts from its creation: no token skips its
    /// timeout by having no last use.
    package static func isIdle(
        lastUsed: EpochMillis?, created: EpochMillis, idleSeconds: Int64?, resolution: Int64?,
        now: EpochMillis
    ) -> Bool {
        guard let idleSeconds else { return false }
        let since = lastUsed ?? created
        return now - since > idleSeconds * 1000 + (writeInterval(resolution: resolution, idleSeconds: idleSeconds) ?? 0)
    }

    /// Whether a check at `now` writes `w`.
    package static func isStale(lastUsed: EpochMillis?, idleSeconds: Int64?, resolution: Int64?, now: EpochMillis) -> Bool {
        guard let interval = writeInterval(resolution: resolution, idleSeconds: idleSeconds) else { return false }
        guard let lastUsed else { return true }
        return now - lastUsed >= interval
    }

    /// The rules as Lua, for Script.helpers. `resolution` is the scripts' argument
    /// (milliseconds, or '' for off); `w`, `t` and `d` are HMGET values (false when absent).
    static let lua = #"""
        local function writeInterval(resolution, d)
          if resolution == nil or resolution == '' then return nil end
          local r = tonumber(resolution)
          if d and d ~= '' then r = math.max(1, math.min(r, tonumber(d) * 250)) end
          return r
        end
        local function idleOut(w, t, d, resolution)
          local since = w or t
          if not d or d == '' or not since then return false end
          return NOW - tonumber(since) > tonumber(d) * 1000 + (writeInterval(resolution, d) or 0)
        end
        local function stale(w, d, resolution)
          local interval = writeInterval(resolution, d)
          if not interval then return false end
          return not w or NOW - tonumber(w) >= interval
        end

        """#
}
