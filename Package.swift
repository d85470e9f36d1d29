// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "durin",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "durin-fcgi", targets: ["durin-fcgi"]),
        .executable(name: "durinctl", targets: ["durinctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
    ],
    targets: [
        // The two C libraries, each wrapped exactly once (RedisClient, FastCGI).
        .systemLibrary(
            name: "CHiredis", path: "Sources/CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(
            name: "CFastCGI", path: "Sources/CFastCGI", pkgConfig: "fcgi",
            providers: [.apt(["libfcgi-dev"])]),
        // The POSIX calls Swift cannot make directly (header only).
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),

        // Hex, base64 and percent-decoding: the one codec every module shares.
        .target(name: "Codecs"),
        .target(name: "RedisClient", dependencies: ["CHiredis", "Codecs"]),
        .target(name: "FastCGI", dependencies: ["CFastCGI"]),
        // Thread names and priorities, signals for a clean shutdown.
        .target(name: "SystemSupport", dependencies: ["CSystem"]),

        // The domain: tokens, TTLs, throttle rates, password hashes, settings. No I/O.
        .target(
            name: "DurinCore",
            dependencies: [
                "Codecs",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),
        // The wire: request bodies (JSON, forms, multipart), the Authorization
        // header, every error as durin's status and body. No domain types.
        .target(name: "DurinHTTP", dependencies: ["Codecs"]),
        // The Redis data model (docs/redis-layout.md), its atomic Lua scripts, and its
        // records as JSON (RecordJSON, for every reader that shows them).
        .target(
            name: "DurinStore",
            dependencies: ["Codecs", "DurinCore", "DurinHTTP", "RedisClient", .product(name: "Crypto", package: "swift-crypto")]),
        // The verification cache: its entries, the invalidation listener (Redis client
        // tracking) and each worker's reads through it.
        .target(name: "DurinCache", dependencies: ["DurinCore", "DurinStore", "RedisClient"]),
        // Moving data in: layout 1 to layout 2, one server into a cluster, a
        // django-rest-durin site's users, clients and tokens.
        .target(name: "DurinMigration", dependencies: ["Codecs", "DurinCore", "DurinStore", "RedisClient"]),
        // The request pipeline (router, context, dispatcher), the API's routes (the
        // sign-in page's files embedded from SignIn/), and the process: worker
        // threads, the login pool, signal handling.
        .target(
            name: "DurinServer",
            dependencies: [
                "DurinCore", "DurinHTTP", "DurinStore", "DurinCache", "DurinMigration", "FastCGI", "RedisClient", "SystemSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            // The sign-in page's files, embedded in SignInAssets.swift.
            exclude: ["SignIn"]),
        // The operator console (docs/console.md): a group of routes mounted in the
        // responder's router, its page, style and script embedded from Assets/.
        .target(
            name: "DurinConsole",
            dependencies: [
                "DurinCore", "DurinHTTP", "DurinStore", "DurinServer", "Codecs", "RedisClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Assets"]),
        .executableTarget(name: "durin-fcgi", dependencies: ["DurinServer", "DurinConsole"]),
        .executableTarget(
            name: "durinctl",
            dependencies: [
                "DurinCore", "DurinHTTP", "DurinStore", "DurinMigration", "RedisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Unit tests, one target per module, each depending only on the module it tests
        // (DurinServer's API is written in DurinCore's and DurinHTTP's types).
        .testTarget(name: "CodecsTests", dependencies: ["Codecs"]),
        .testTarget(name: "DurinCoreTests", dependencies: ["DurinCore"], exclude: ["naturaldelta-vectors.txt"]),
        .testTarget(name: "DurinHTTPTests", dependencies: ["DurinHTTP"]),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient"]),
        .testTarget(name: "FastCGITests", dependencies: ["FastCGI"]),
        // A redis-server of a test's own, for the tests that need Redis but not nginx,
        // and the responder's routes in process (RouteClient) with a clock to move.
        .target(
            name: "DurinTestSupport",
            dependencies: [
                "RedisClient", "DurinCore", "DurinHTTP", "DurinStore", "DurinServer",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/DurinTestSupport"),
        // Routes in process: the route table, and every route's answers through the
        // API against a real redis-server, without FastCGI or nginx.
        .testTarget(
            name: "DurinServerTests",
            dependencies: [
                "DurinServer", "DurinCore", "DurinHTTP", "DurinStore", "RedisClient", "DurinTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The operator console's routes in process, through the same router.
        .testTarget(
            name: "DurinConsoleTests",
            dependencies: ["DurinConsole", "DurinServer", "DurinCore", "DurinHTTP", "DurinStore", "DurinTestSupport"]),
        // durinctl's command line, parsed in process (ArgumentParser's parseAsRoot).
        .testTarget(name: "DurinctlParsingTests", dependencies: ["durinctl", "DurinCore"]),
        // The store against a real redis-server, without nginx or the responder.
        .testTarget(
            name: "DurinStoreTests",
            dependencies: ["DurinCore", "DurinStore", "DurinMigration", "RedisClient", "DurinTestSupport"]),
        // The verification cache and its listener against a real redis-server.
        .testTarget(name: "DurinCacheTests", dependencies: ["DurinCore", "DurinStore", "DurinCache", "RedisClient", "DurinTestSupport"]),
        // The migrations and imports against a real redis-server.
        .testTarget(
            name: "DurinMigrationTests",
            dependencies: ["DurinCore", "DurinStore", "DurinMigration", "RedisClient", "DurinTestSupport"]),
        // End to end: nginx, durin-fcgi and redis-server started by scripts/devstack.sh.
        .testTarget(
            name: "DurinIntegrationTests",
            dependencies: [
                "DurinCore", "DurinStore", "RedisClient", "DurinTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// The upcoming-feature flags swift-log and valkey-swift build with: an existential
// says `any`, and an import is internal unless a declaration's signature needs it
// (`package import`).
for target in package.targets where target.type != .system {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("InternalImportsByDefault"),
        ]
}
