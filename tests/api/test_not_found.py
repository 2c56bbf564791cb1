"""An API path that names nothing answers JSON, like every other API error."""


def test_an_unknown_api_path_is_a_json_404(client, manager):
    client.force_login(manager)
    for path in ["/api/v1/groups/1/members/-3/", "/api/v1/no-such-thing/", "/api/v2/"]:
        response = client.delete(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "未找到。", "code": "not_found"}


def test_a_missing_trailing_slash_is_still_redirected(client, manager):
    client.force_login(manager)
    response = client.get("/api/v1/customers")
    assert response.status_code == 301 and response["Location"] == "/api/v1/customers/"
