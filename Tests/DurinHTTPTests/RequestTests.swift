import Foundation
import XCTest

@testable import DurinHTTP

final class RequestTests: XCTestCase {
    func testFormBodiesDecodeLikeDjango() {
        let f = FormURLEncoded.parse(Array("username=a+b%40c&password=%ZZ&client=web&client=cli&flag".utf8))
        XCTAssertEqual(f["username"], "a b@c")
        XCTAssertEqual(f["password"], "%ZZ")
        XCTAssertEqual(f["client"], "cli", "a repeated field keeps its last value")
        XCTAssertEqual(f["flag"], "")
    }

    func testBodyDecodingByContentType() throws {
        XCTAssertEqual(try RequestData.decode(contentType: "application/json; charset=utf-8", body: Array(#"{"a":"b"}"#.utf8))["a"], "b")
        XCTAssertEqual(try RequestData.decode(contentType: "text/plain", body: []), .empty, "an empty body is never parsed")
        XCTAssertEqual(try RequestData.decode(contentType: "application/json", body: Array("[1]".utf8)), .notAnObject("list"))
        XCTAssertThrowsError(try RequestData.decode(contentType: "text/plain; charset=x", body: [1])) {
            XCTAssertEqual($0 as? APIError, .unsupportedMediaType("text/plain; charset=x"))
        }
        XCTAssertThrowsError(try RequestData.decode(contentType: nil, body: [1])) {
            XCTAssertEqual(($0 as? APIError)?.detail, "Unsupported media type \"\" in request.")
        }
        XCTAssertThrowsError(try RequestData.decode(contentType: "application/json", body: Array("{x".utf8))) {
            XCTAssertEqual(
                ($0 as? APIError)?.detail,
                "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")
        }
    }

    func testCharFieldFollowsDRF() {
        XCTAssertEqual(CharField.validate(nil, trimWhitespace: true), .failure(.init("This field is required.")))
        XCTAssertEqual(CharField.validate(.null, trimWhitespace: true), .failure(.init("This field may not be null.")))
        XCTAssertEqual(CharField.validate("  \t", trimWhitespace: true), .failure(.init("This field may not be blank.")))
        XCTAssertEqual(CharField.validate("  ", trimWhitespace: false), .success("  "), "passwords are not trimmed")
        XCTAssertEqual(CharField.validate("", trimWhitespace: false), .failure(.init("This field may not be blank.")))
        XCTAssertEqual(CharField.validate(" bob ", trimWhitespace: true), .success("bob"))
        XCTAssertEqual(CharField.validate(.number("42"), trimWhitespace: true), .success("42"))
        XCTAssertEqual(CharField.validate(["x"], trimWhitespace: true), .failure(.init("Not a valid string.")))
        XCTAssertEqual(CharField.validate(.bool(true), trimWhitespace: true), .failure(.init("Not a valid string.")))
        XCTAssertEqual(CharField.validate("a\u{0}b", trimWhitespace: true), .failure(.init("Null characters are not allowed.")))
    }

    func testAuthorizationHeaderParsing() throws {
        func parse(_ s: String?) throws -> Credentials { try AuthorizationHeader.parse(s.map { Array($0.utf8) }, prefix: "Token") }
        XCTAssertEqual(try parse(nil), .none)
        XCTAssertEqual(try parse(""), .none)
        XCTAssertEqual(try parse("Bearer abc"), .none, "another scheme is no credentials")
        XCTAssertEqual(try parse("tOkEn\tabc"), .token("abc"))
        XCTAssertEqual(try parse("Token   abc  "), .token("abc"))
        XCTAssertThrowsError(try parse("Token")) { XCTAssertEqual($0 as? APIError, .invalidHeaderNoCredentials) }
        XCTAssertThrowsError(try parse("Token a b")) { XCTAssertEqual($0 as? APIError, .invalidHeaderSpaces) }
        XCTAssertThrowsError(try AuthorizationHeader.parse(Array("Token ".utf8) + [0xFF, 0xFE], prefix: "Token")) {
            XCTAssertEqual($0 as? APIError, .invalidToken)
        }
    }

    func testErrorResponsesCarryDurinsHeaders() {
        let r = APIError.invalidToken.response(authPrefix: "Token")
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.headers.first { $0.0 == "WWW-Authenticate" }?.1, "Token")
        XCTAssertEqual(String(decoding: r.body, as: UTF8.self), #"{"detail":"Invalid token."}"#)
        let t = APIError.throttled(waitSeconds: 7).response(authPrefix: "Token")
        XCTAssertEqual(t.status, 429)
        XCTAssertEqual(t.headers.first { $0.0 == "Retry-After" }?.1, "7")
        XCTAssertEqual(
            String(decoding: APIError.invalidCredentials.response(authPrefix: "T").body, as: UTF8.self),
            #"{"non_field_errors":["Unable to log in with provided credentials."]}"#)
    }
}

/// introspect/'s and revoke/'s caller: an issuer key in any of the ways OAuth
/// clients send one.
final class IssuerCredentialsTests: XCTestCase {
    func testKeysArriveByHeaderBasicOrForm() {
        let none = RequestData.empty
        XCTAssertEqual(IssuerCredentials.parse(authorization: Array("Issuer abc".utf8), form: none), .key("abc"))
        XCTAssertEqual(IssuerCredentials.parse(authorization: Array("issuer\tabc".utf8), form: none), .key("abc"))
        let basic = "Basic " + Data("gw%2B1:k%3Ay".utf8).base64EncodedString()
        XCTAssertEqual(IssuerCredentials.parse(authorization: Array(basic.utf8), form: none), .named("gw+1", key: "k:y"))
        let form = RequestData.fields(["client_id": "gw", "client_secret": "k"])
        XCTAssertEqual(IssuerCredentials.parse(authorization: nil, form: form), .named("gw", key: "k"))
        // A header wins over the form, and a malformed or foreign one is no key at all.
        for bad in [
            "Issuer", "Issuer a b", "Basic !!!", "Basic " + Data("nocolon".utf8).base64EncodedString(),
            "Basic " + Data(":k".utf8).base64EncodedString(), "Token abc", "Bearer abc",
        ] {
            XCTAssertEqual(IssuerCredentials.parse(authorization: Array(bad.utf8), form: form), .none, bad)
        }
        XCTAssertEqual(IssuerCredentials.parse(authorization: nil, form: .fields(["client_id": "gw"])), .none)
    }

    func testBearerChallengesFollowRFC6750() {
        let schemes = ["Token", "Bearer"]
        func challenges(_ e: APIError) -> [String] {
            e.response(authSchemes: schemes).headers.filter { $0.0 == "WWW-Authenticate" }.map(\.1)
        }
        XCTAssertEqual(challenges(.notAuthenticated), ["Token", "Bearer"])
        XCTAssertEqual(
            challenges(.tokenExpired), ["Token", #"Bearer error="invalid_token", error_description="The given token has expired.""#])
        XCTAssertEqual(
            challenges(.invalidHeaderSpaces).last,
            #"Bearer error="invalid_request", error_description="Invalid token header. Token string should not contain spaces.""#)
        XCTAssertEqual(challenges(.invalidClient), ["Issuer", #"Basic realm="durin""#])
        XCTAssertEqual(try AuthorizationHeader.parse(Array("bearer abc".utf8), schemes: schemes), .token("abc"))
        XCTAssertEqual(try AuthorizationHeader.parse(Array("Basic abc".utf8), schemes: schemes), .none)
    }
}
