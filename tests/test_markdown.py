from phonebank.lib.markdown import render


def test_scripts_render_headings_and_lists():
    html = render("## 开场\n\n- one\n- **two**")
    assert "<h2>开场</h2>" in html
    assert "<li><strong>two</strong></li>" in html


def test_raw_html_and_script_urls_do_not_survive():
    html = render("<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=y>")
    assert "<script" not in html
    assert 'href="javascript' not in html
    assert "<img" not in html


def test_links_keep_safe_schemes_with_noopener():
    html = render("[call](tel:+8613800138000) [site](https://example.org)")
    assert 'href="tel:+8613800138000"' in html
    assert 'rel="noopener noreferrer"' in html


def test_the_workspace_shows_the_rendered_script(signed_in, caller, campaign):
    campaign.script = "## Opening\n\n<b>raw</b>"
    campaign.save()
    # The script shows beside a contact: give the caller one.
    from phonebank.calling.models import Target
    from phonebank.contacts.models import Contact
    from phonebank.lib.fields import keyring

    contact = Contact.objects.create(
        blind_index=keyring().blind_index("+8613800138000"), phone="+8613800138000", timezone="UTC"
    )
    target = Target.objects.create(
        campaign=campaign,
        contact=contact,
        lease_holder=caller,
        lease_expires_at="2999-01-01T00:00:00Z",
    )
    assert target.pk
    body = signed_in(caller).get("/call/spring/").content.decode()
    assert "<h2>Opening</h2>" in body
    assert "<b>raw</b>" not in body
